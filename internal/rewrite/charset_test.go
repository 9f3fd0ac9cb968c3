package rewrite

import (
	"strings"
	"testing"
)

func TestPrescan(t *testing.T) {
	tests := []struct {
		head  string
		label string // "" for none
	}{
		{`<meta charset="utf-8">`, "utf-8"},
		{`<META CHARSET=ISO-2022-JP>`, "iso-2022-jp"},
		{`<meta charset='shift_jis'/>`, "shift_jis"},
		{`<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">`, "euc-jp"},
		{`<meta content="text/html; charset=euc-jp">`, ""}, // content needs the pragma
		{`<meta content="text/html; charset='koi8-r'" http-equiv=content-type>`, "koi8-r"},
		{`<!-- <meta charset=iso-2022-jp> --><meta charset=utf-8>`, "utf-8"},
		{`<!--><meta charset=iso-2022-jp>`, "iso-2022-jp"},
		{`<p title="<meta charset=iso-2022-jp>"><meta charset=utf-8>`, "utf-8"},
		{`<script>"<meta charset=iso-2022-jp>"</script>`, "iso-2022-jp"}, // the prescan knows no scripts
		{`<meta charset=><meta charset=utf-8>`, "utf-8"},
		{`<meta name=x charset=iso-8859-2 charset=utf-8>`, "iso-8859-2"},
		{`<metax charset=iso-2022-jp>`, ""},
		{`<meta/charset=utf-16le>`, "utf-16le"},
		{`<meta charset=utf-8`, ""}, // ran out of bytes
		{`<p>` + strings.Repeat("x", prescanLen) + `<meta charset=iso-2022-jp>`, ""},
	}
	for _, tc := range tests {
		head := []byte(tc.head)
		label, ok := prescan(head[:min(len(head), prescanLen)])
		if ok != (tc.label != "") || label != tc.label {
			t.Errorf("prescan(%.60q) = %q, %v; want %q", tc.head, label, ok, tc.label)
		}
	}
}

func TestSniffEncoding(t *testing.T) {
	tests := []struct {
		head string
		want Encoding
	}{
		{"<!DOCTYPE html><p>x", EncodingUnknown},
		{`<meta charset=utf-8>`, EncodingUTF8},
		{`<meta charset=utf-16>`, EncodingUTF8}, // as the standard says
		{`<meta charset=iso-2022-jp>`, EncodingOther},
		{`<meta charset=windows-1252>`, EncodingOther}, // a page that names another encoding is left as it is
		{`<meta charset=no-such-thing>`, EncodingOther},
		{"\xef\xbb\xbf<meta charset=iso-2022-jp>", EncodingUTF8},
		{"\xff\xfe<\x00h\x00", EncodingOther},
		{"\xfe\xff\x00<\x00h", EncodingOther},
	}
	for _, tc := range tests {
		if got := sniffEncoding([]byte(tc.head)); got != tc.want {
			t.Errorf("sniffEncoding(%q) = %d, want %d", tc.head, got, tc.want)
		}
	}
}
