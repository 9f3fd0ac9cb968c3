module github.com/chatwidget/chatwidget

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/gorilla/sessions v1.4.0
	golang.org/x/net v0.62.0
	golang.org/x/sync v0.25.0
)

require github.com/gorilla/securecookie v1.1.2 // indirect
