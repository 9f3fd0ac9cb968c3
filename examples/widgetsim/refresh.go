package widgetsim

import "github.com/chatwidget/chatwidget"

// The names of the widget's JavaScript API for long-lived tabs, as
// chatwidget.Refresh takes them (see [RefreshConfig]).
const (
	// UpdateHook names the widget's function that takes a fresh token:
	// window.ChatWidgetSim.setToken(token) verifies it and, if the vendor
	// accepts it, shows its visitor and keeps it in place of the old one.
	UpdateHook = "ChatWidgetSim.setToken"
	// LogoutHook names the widget's function that says nobody is logged in
	// any more: window.ChatWidgetSim.logout() forgets the visitor and shows
	// the anonymous form.
	LogoutHook = "ChatWidgetSim.logout"
	// ExpiredHook is the global function the widget calls, with no
	// arguments, when the vendor rejects a token as expired, if the page
	// defines it: chatwidget's refresh script does, and fetches a fresh
	// token at once.
	ExpiredHook = "chatWidgetTokenExpired"
)

// RefreshConfig returns the configuration of chatwidget's refresh script
// for this widget, to pass to chatwidget.WithRefresh, with endpoint the path
// where the site mounts (*chatwidget.Middleware).TokenHandler, e.g.
// "/chatwidget/token". Before is left to chatwidget's default.
func RefreshConfig(endpoint string) chatwidget.Refresh {
	return chatwidget.Refresh{
		Endpoint:    endpoint,
		Update:      UpdateHook,
		Logout:      LogoutHook,
		ExpiredHook: ExpiredHook,
	}
}
