package site

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/chatwidget/chatwidget"
)

// loadKey returns the key in the PEM file at path, which chatwidget.New reads
// and checks, or, when path is empty, a throwaway 2048-bit key.
func loadKey(path string) (chatwidget.Key, error) {
	if path != "" {
		return chatwidget.KeyFile(path), nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return chatwidget.Key{}, fmt.Errorf("generate a throwaway key: %w", err)
	}
	return chatwidget.KeyRSA(k), nil
}
