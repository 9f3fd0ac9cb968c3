module github.com/chatwidget/chatwidget/hsm

go 1.26.0

require (
	github.com/ThalesGroup/crypto11 v1.6.2
	github.com/chatwidget/chatwidget v0.0.0-00010101000000-000000000000
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/miekg/pkcs11 v1.1.2
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/gorilla/sessions v1.4.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)

replace github.com/chatwidget/chatwidget => ../
