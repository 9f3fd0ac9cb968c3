package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// genrsa is the command the key errors point to.
const genrsa = "generate one with `openssl genrsa -out private.pem 2048`"

// loadKey reads the RSA private key in the PEM file at path, or, when path is
// empty, generates a throwaway 2048-bit key. chatwidget.New checks the key's
// size and validity again.
func loadKey(path string) (*rsa.PrivateKey, error) {
	if path == "" {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return k, nil
}

// parseKey parses the first PEM block of b as a PKCS#1 or PKCS#8 RSA private
// key. Its errors never hold key material.
func parseKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block; " + genrsa)
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, fmt.Errorf("a %T, not an RSA key; %s", k, genrsa)
	}
	return nil, fmt.Errorf("PEM block is %q, not an unencrypted RSA private key; %s", block.Type, genrsa)
}

// publicKeyPEM returns the public half of k as a PKIX "PUBLIC KEY" PEM block,
// the form vendors ask for.
func publicKeyPEM(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
