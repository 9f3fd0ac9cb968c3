module github.com/chatwidget/chatwidget

go 1.25.0

require (
	github.com/andybalholm/brotli v1.2.6
	github.com/golang-jwt/jwt/v5 v5.2.2
	github.com/gorilla/sessions v1.2.2
	github.com/klauspost/compress v1.15.15
	golang.org/x/net v0.56.0
	golang.org/x/sync v0.16.0
)

require github.com/gorilla/securecookie v1.1.2 // indirect
