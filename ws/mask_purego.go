//go:build purego || noasm || !amd64

package ws

func cipher(p []byte, mask [4]byte, offset int) { cipherWords(p, mask, offset) }
