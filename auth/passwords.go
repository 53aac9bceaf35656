package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters. They are written into every PHC string, so that a
// hash stays verifiable after the defaults change.
type Params struct {
	MemoryKiB, Time uint32
	Threads         uint8
	KeyLen, SaltLen uint32
}

// DefaultParams is OWASP's recommended argon2id configuration (19 MiB, 2 passes, 1 lane).
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// ErrMalformedHash reports a stored password hash that is not an argon2id PHC string this
// package can verify. Its message never includes the hash.
var ErrMalformedHash = errors.New("malformed password hash")

// Limits on the parameters a PHC string may ask for. A stored hash is data, not code: without
// them a corrupted or planted row could make one Verify allocate gigabytes or loop for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 100
	minBytes     = 8 // salt and key
	maxBytes     = 1024
)

const (
	minPasswordRunes = 8
	maxPasswordRunes = 256
)

var b64 = base64.RawStdEncoding

// Hasher hashes and verifies passwords with argon2id, running at most a fixed number of
// hashes at once: each costs Params.MemoryKiB of memory, so unbounded concurrent sign-ins
// could exhaust the process's memory.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string
	runs   atomic.Int64
	// idKey is argon2.IDKey; tests replace it to observe concurrency.
	idKey func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// NewHasher returns a Hasher that hashes with p and runs at most concurrency argon2 hashes at
// once (at least one). It hashes a random password once, for VerifyDummy. It panics when p is
// outside the limits Verify accepts, since such a configuration is a programming error.
func NewHasher(p Params, concurrency int) *Hasher {
	if err := p.check(); err != nil {
		panic(fmt.Sprintf("auth: NewHasher: %v", err))
	}
	concurrency = max(concurrency, 1)
	h := &Hasher{params: p, slots: make(chan struct{}, concurrency), idKey: argon2.IDKey}
	salt := randomBytes(int(p.SaltLen))
	key := h.idKey(randomBytes(32), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	h.dummy = encodePHC(p, salt, key)
	return h
}

// Hash returns the PHC string of password hashed with a new random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, both in unpadded standard base64. The only
// error is ctx's, when it ends while waiting for a free hashing slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(int(h.params.SaltLen))
	key, err := h.run(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches phc, comparing in constant time. rehash is true when
// the password matches and phc was made with parameters other than h's: the caller should then
// store a new Hash of it. (It is never true for a wrong password, so that a caller cannot
// replace a hash with that of a guess.) The error is ctx's when it ends while waiting for a
// free hashing slot, or ErrMalformedHash.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, rehash bool, err error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, false, err
	}
	got, err := h.run(ctx, password, salt, p)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify against a hash made with h's parameters, for a sign-in
// naming an unknown email: it then takes as long as one with a wrong password, and so does not
// tell which emails have accounts. The only error is ctx's.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// Runs reports how many argon2 hashes Hash, Verify and VerifyDummy have computed (NewHasher's
// own is not counted), so that tests can check that every sign-in path costs the same.
func (h *Hasher) Runs() int64 {
	return h.runs.Load()
}

// run computes one argon2id key once a slot is free.
func (h *Hasher) run(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	// A request that has already ended should not spend a hash, even when a slot is free
	// (select would pick at random).
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.slots }()
	h.runs.Add(1)
	return h.idKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen), nil
}

// check reports whether p is within the limits a PHC string may ask for.
func (p Params) check() error {
	switch {
	case p.Threads < 1:
		return errors.New("parallelism must be at least 1")
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time must be between 1 and %d", maxTime)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		// argon2 needs 8 KiB per lane (RFC 9106, section 3.1).
		return fmt.Errorf("memory must be between 8 KiB per thread and %d KiB", maxMemoryKiB)
	case p.KeyLen < minBytes || p.KeyLen > maxBytes:
		return fmt.Errorf("key length must be between %d and %d bytes", minBytes, maxBytes)
	case p.SaltLen < minBytes || p.SaltLen > maxBytes:
		return fmt.Errorf("salt length must be between %d and %d bytes", minBytes, maxBytes)
	}
	return nil
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC accepts only the canonical form encodePHC writes, with parameters within limits;
// anything else is ErrMalformedHash, before any hashing.
func parsePHC(phc string) (Params, []byte, []byte, error) {
	fields := strings.Split(phc, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("%w: not an argon2id PHC string", ErrMalformedHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported argon2 version", ErrMalformedHash)
	}
	var p Params
	costs := strings.Split(fields[3], ",")
	if len(costs) != 3 {
		return Params{}, nil, nil, fmt.Errorf("%w: bad parameters", ErrMalformedHash)
	}
	m, okM := decimal(costs[0], "m=")
	t, okT := decimal(costs[1], "t=")
	threads, okP := decimal(costs[2], "p=")
	if !okM || !okT || !okP || threads > 255 {
		return Params{}, nil, nil, fmt.Errorf("%w: bad parameters", ErrMalformedHash)
	}
	p.MemoryKiB, p.Time, p.Threads = m, t, uint8(threads)
	salt, okS := decodeB64(fields[4])
	key, okK := decodeB64(fields[5])
	if !okS || !okK {
		return Params{}, nil, nil, fmt.Errorf("%w: bad base64", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %v", ErrMalformedHash, err)
	}
	return p, salt, key, nil
}

// decimal parses prefix followed by a uint32 in canonical decimal (digits only, no leading
// zero).
func decimal(s, prefix string) (uint32, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	return uint32(n), err == nil
}

// decodeB64 decodes unpadded standard base64 of at most maxBytes bytes. Re-encoding must give
// s back: the decoder skips newlines and ignores stray low bits.
func decodeB64(s string) ([]byte, bool) {
	if len(s) > b64.EncodedLen(maxBytes) {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// PasswordProblem returns the message telling a user why password cannot be used, or "" when
// it can. Length is counted in Unicode code points, without normalization.
func PasswordProblem(password string) string {
	switch n := utf8.RuneCountInString(password); {
	case n < minPasswordRunes:
		return fmt.Sprintf("Use at least %d characters.", minPasswordRunes)
	case n > maxPasswordRunes:
		return fmt.Sprintf("Use at most %d characters.", maxPasswordRunes)
	}
	return ""
}

// randomBytes returns n bytes from crypto/rand, which since Go 1.24 never returns an error
// (it crashes the program instead).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
