// The buttons of the chatwidget demo's home page, under "What is left
// alone": they fetch /fragment the way a plain fetch(), htmx and Turbo
// Frames do, and read /events with an EventSource, and show what came back
// as text (textContent, never innerHTML), saying whether the middleware put
// its widget into it.
(function () {
  "use strict";

  var out = document.getElementById("left-alone-output");
  if (!out) {
    return;
  }

  // The request headers of each way to ask for a fragment.
  var fragmentHeaders = {
    plain: {},
    htmx: { "HX-Request": "true" },
    turbo: { "Turbo-Frame": "cart" }
  };

  // show writes what came back, and whether a script (the widget) was put
  // into it.
  function show(what, text) {
    var verdict = text.indexOf("<script") < 0
      ? "No script: the middleware left this alone."
      : "A script was put into it!";
    out.textContent = what + "\n\n" + text + "\n\n" + verdict;
  }

  document.querySelectorAll("button[data-fragment]").forEach(function (b) {
    b.addEventListener("click", function () {
      var kind = b.getAttribute("data-fragment");
      var what = "GET /fragment (" + kind + ")";
      fetch("/fragment", { headers: fragmentHeaders[kind] })
        .then(function (res) { return res.text(); })
        .then(function (text) { show(what, text); },
              function (err) { show(what, "failed: " + err); });
    });
  });

  var events = document.getElementById("left-alone-events");
  if (events) {
    events.addEventListener("click", function () {
      var got = [];
      var source = new EventSource("/events");
      source.onmessage = function (e) {
        got.push(e.data);
        show("GET /events, as they come", got.join("\n"));
      };
      // The server's last event; without close, EventSource would reconnect.
      source.addEventListener("end", function () { source.close(); });
      source.onerror = function () { source.close(); };
    });
  }
})();
