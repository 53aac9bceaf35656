package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/storegraph/storegraph/auth"
)

// fast keeps tests quick; DefaultParams costs 19 MiB and two passes per hash.
var fast = auth.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

const waitLimit = 10 * time.Second

func TestHashThenVerifyAcceptsOnlyThePassword(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(fast, 2)
	phc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("Hash = %q, want the prefix $argon2id$v=19$m=64,t=1,p=1$", phc)
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horse ", false},
		{"Correct horse", false},
		{"", false},
	} {
		ok, rehash, err := h.Verify(ctx, tc.password, phc)
		if err != nil || ok != tc.want || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tc.password, ok, rehash, err, tc.want)
		}
	}
}

func TestHashSaltsEveryHash(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(fast, 1)
	a, errA := h.Hash(ctx, "same password")
	b, errB := h.Hash(ctx, "same password")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Errorf("two hashes of one password are both %q", a)
	}
}

func TestHashWithDefaultParamsWritesOWASPParams(t *testing.T) {
	phc, err := auth.NewHasher(auth.DefaultParams, 1).Hash(context.Background(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(phc, prefix) {
		t.Fatalf("Hash = %q, want the prefix %q", phc, prefix)
	}
	// 16-byte salt and 32-byte key in unpadded base64.
	parts := strings.Split(strings.TrimPrefix(phc, prefix), "$")
	if len(parts) != 2 || len(parts[0]) != 22 || len(parts[1]) != 43 {
		t.Errorf("salt and key = %q, want 22 and 43 characters", parts)
	}
}

func TestVerifyAsksForRehashOnlyWhenParamsDifferAndThePasswordMatches(t *testing.T) {
	ctx := context.Background()
	current := auth.NewHasher(fast, 1)
	for _, tc := range []struct {
		name   string
		params auth.Params
		want   bool
	}{
		{"same params", fast, false},
		{"other memory", auth.Params{MemoryKiB: 128, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, true},
		{"other time", auth.Params{MemoryKiB: 64, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}, true},
		{"other threads", auth.Params{MemoryKiB: 64, Time: 1, Threads: 2, KeyLen: 32, SaltLen: 16}, true},
		{"other key length", auth.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 16}, true},
		{"other salt length", auth.Params{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 8}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			phc, err := auth.NewHasher(tc.params, 1).Hash(ctx, "old password")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := current.Verify(ctx, "old password", phc)
			if err != nil || !ok || rehash != tc.want {
				t.Errorf("Verify(right password) = %v, %v, %v; want true, %v, nil", ok, rehash, err, tc.want)
			}
			ok, rehash, err = current.Verify(ctx, "wrong password", phc)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyRefusesMalformedHashesWithoutHashing(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(fast, 1)
	valid, err := h.Hash(ctx, "password1")
	if err != nil {
		t.Fatal(err)
	}
	salt := "c29tZXNhbHRzb21lc2FsdA"                     // 16 bytes
	key := "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes
	phc := func(head string) string { return head + "$" + salt + "$" + key }
	for _, tc := range []struct{ name, phc string }{
		{"empty", ""},
		{"just a dollar", "$"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", phc("$argon2i$v=19$m=64,t=1,p=1")},
		{"argon2d", phc("$argon2d$v=19$m=64,t=1,p=1")},
		{"no leading dollar", strings.TrimPrefix(valid, "$")},
		{"trailing dollar", valid + "$"},
		{"version 16", phc("$argon2id$v=16$m=64,t=1,p=1")},
		{"no version", phc("$argon2id$m=64,t=1,p=1")},
		{"version with leading zero", phc("$argon2id$v=019$m=64,t=1,p=1")},
		{"params out of order", phc("$argon2id$v=19$t=1,m=64,p=1")},
		{"missing param", phc("$argon2id$v=19$m=64,t=1")},
		{"extra param", phc("$argon2id$v=19$m=64,t=1,p=1,k=2")},
		{"spaces in params", phc("$argon2id$v=19$m=64, t=1, p=1")},
		{"signed number", phc("$argon2id$v=19$m=+64,t=1,p=1")},
		{"negative number", phc("$argon2id$v=19$m=-64,t=1,p=1")},
		{"leading zero", phc("$argon2id$v=19$m=064,t=1,p=1")},
		{"hex number", phc("$argon2id$v=19$m=0x40,t=1,p=1")},
		{"empty number", phc("$argon2id$v=19$m=,t=1,p=1")},
		{"memory beyond uint32", phc("$argon2id$v=19$m=4294967296,t=1,p=1")},
		{"memory uint32 max", phc("$argon2id$v=19$m=4294967295,t=1,p=1")},
		{"memory over 1 GiB", phc("$argon2id$v=19$m=1048577,t=1,p=1")},
		{"memory under 8 KiB a lane", phc("$argon2id$v=19$m=15,t=1,p=2")},
		{"memory zero", phc("$argon2id$v=19$m=0,t=1,p=1")},
		{"time zero", phc("$argon2id$v=19$m=64,t=0,p=1")},
		{"time over 100", phc("$argon2id$v=19$m=64,t=101,p=1")},
		{"time uint32 max", phc("$argon2id$v=19$m=64,t=4294967295,p=1")},
		{"threads zero", phc("$argon2id$v=19$m=64,t=1,p=0")},
		{"threads over 255", phc("$argon2id$v=19$m=4096,t=1,p=256")},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$not*base64!!$" + key},
		{"key not base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$####"},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"url-safe alphabet", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("_-", 22)},
		{"newline in key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:20] + "\n" + key[20:]},
		{"stray low bits", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:21] + "B$" + key},
		{"empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"salt of 7 bytes", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbA$" + key},
		{"key of 7 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$c2FsdHNhbA"},
		{"salt over 1024 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("AAAA", 342) + "$" + key},
		{"key over 1024 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("AAAA", 342)},
		{"huge key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.Runs()
			ok, rehash, err := h.Verify(ctx, "password1", tc.phc)
			if !errors.Is(err, auth.ErrMalformedHash) || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, ErrMalformedHash", ok, rehash, err)
			}
			if runs := h.Runs() - before; runs != 0 {
				t.Errorf("Verify ran argon2 %d times, want 0", runs)
			}
			if err != nil && tc.phc != "" && strings.Contains(err.Error(), tc.phc) {
				t.Errorf("the error %q quotes the hash", err)
			}
		})
	}
}

func TestVerifyAcceptsParamsAtTheLimits(t *testing.T) {
	// A hand-made hash at the edges of what parsePHC accepts (8-byte salt and key, p=255 with
	// the 8 KiB a lane argon2 needs) verifies instead of being called malformed.
	ctx := context.Background()
	salt := []byte("saltsalt")
	key := argon2.IDKey([]byte("password1"), salt, 1, 8*255, 255, 8)
	phc := "$argon2id$v=19$m=2040,t=1,p=255$c2FsdHNhbHQ$" + b64(key)
	ok, rehash, err := auth.NewHasher(fast, 1).Verify(ctx, "password1", phc)
	if err != nil || !ok || !rehash {
		t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestNewHasherRefusesParamsVerifyWouldCallMalformed(t *testing.T) {
	for _, p := range []auth.Params{
		{},
		{MemoryKiB: 64, Time: 1, Threads: 0, KeyLen: 32, SaltLen: 16},
		{MemoryKiB: 64, Time: 0, Threads: 1, KeyLen: 32, SaltLen: 16},
		{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 4, SaltLen: 16},
		{MemoryKiB: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 4},
		{MemoryKiB: 1<<20 + 1, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHasher(%+v) did not panic", p)
				}
			}()
			auth.NewHasher(p, 1)
		}()
	}
}

func TestVerifyDummyCostsOneRunLikeVerify(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(fast, 1)
	if runs := h.Runs(); runs != 0 {
		t.Fatalf("Runs after NewHasher = %d, want 0", runs)
	}
	phc, err := h.Hash(ctx, "password1")
	if err != nil {
		t.Fatal(err)
	}
	if runs := h.Runs(); runs != 1 {
		t.Fatalf("Runs after Hash = %d, want 1", runs)
	}
	if _, _, err := h.Verify(ctx, "password2", phc); err != nil {
		t.Fatal(err)
	}
	if runs := h.Runs(); runs != 2 {
		t.Fatalf("Runs after Verify = %d, want 2", runs)
	}
	if err := h.VerifyDummy(ctx, "password2"); err != nil {
		t.Fatal(err)
	}
	if runs := h.Runs(); runs != 3 {
		t.Fatalf("Runs after VerifyDummy = %d, want 3", runs)
	}
}

// blockingHasher returns a Hasher whose argon2 runs each report on entered and then wait for a
// value on release, counting how many run at once.
func blockingHasher(concurrency int) (h *auth.Hasher, entered <-chan struct{}, release chan<- struct{}, maxInFlight func() int32) {
	h = auth.NewHasher(fast, concurrency)
	enteredCh := make(chan struct{})
	releaseCh := make(chan struct{})
	var inFlight, peak atomic.Int32
	auth.SetIDKey(h, func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		enteredCh <- struct{}{}
		<-releaseCh
		inFlight.Add(-1)
		return argon2.IDKey(password, salt, time, memory, threads, keyLen)
	})
	return h, enteredCh, releaseCh, peak.Load
}

func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %v", what, waitLimit)
	}
}

func TestHasherRunsAtMostConcurrencyHashesAtOnce(t *testing.T) {
	for _, concurrency := range []int{1, 2} {
		h, entered, release, peak := blockingHasher(concurrency)
		const callers = 5
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				_, err := h.Hash(context.Background(), "password1")
				errs <- err
			})
		}
		// Let the hashes through one at a time once concurrency of them are running.
		for range concurrency {
			receive(t, entered, "hash start")
		}
		for range callers - concurrency {
			release <- struct{}{}
			receive(t, entered, "hash start")
		}
		for range concurrency {
			release <- struct{}{}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := peak(); got != int32(concurrency) {
			t.Errorf("concurrency %d: at most %d hashes ran at once, want %d", concurrency, got, concurrency)
		}
	}
}

func TestWaitingForAHashSlotEndsWithTheContext(t *testing.T) {
	// Concurrency below one means one.
	for _, concurrency := range []int{1, 0, -1} {
		t.Run(fmt.Sprint("concurrency ", concurrency), func(t *testing.T) {
			h, entered, release, _ := blockingHasher(concurrency)
			first := make(chan error, 1)
			go func() {
				_, err := h.Hash(context.Background(), "password1")
				first <- err
			}()
			receive(t, entered, "first hash start")
			assertWaiterGivesUp(t, h)
			release <- struct{}{}
			if err := <-first; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// assertWaiterGivesUp checks, while h's only slot is taken, that Hash, Verify and VerifyDummy
// wait for it and return their context's error once it ends, without running argon2.
func assertWaiterGivesUp(t *testing.T, h *auth.Hasher) {
	t.Helper()
	phc := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	for name, call := range map[string]func(context.Context) error{
		"Hash":        func(ctx context.Context) error { _, err := h.Hash(ctx, "password2"); return err },
		"Verify":      func(ctx context.Context) error { _, _, err := h.Verify(ctx, "password2", phc); return err },
		"VerifyDummy": func(ctx context.Context) error { return h.VerifyDummy(ctx, "password2") },
	} {
		before := h.Runs()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s = %v, want context.Canceled", name, err)
			}
		case <-time.After(waitLimit):
			t.Fatalf("%s still waiting %v after its context ended", name, waitLimit)
		}
		if runs := h.Runs() - before; runs != 0 {
			t.Errorf("%s ran argon2 %d times, want 0", name, runs)
		}
	}
}

func TestHashWithAnEndedContextDoesNotHash(t *testing.T) {
	h := auth.NewHasher(fast, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash = %v, want context.Canceled", err)
	}
	if runs := h.Runs(); runs != 0 {
		t.Errorf("Runs = %d, want 0", runs)
	}
}

func TestPasswordProblem(t *testing.T) {
	for _, tc := range []struct {
		name, password, want string
	}{
		{"empty", "", "Use at least 8 characters."},
		{"7 characters", "1234567", "Use at least 8 characters."},
		{"8 characters", "12345678", ""},
		{"256 characters", strings.Repeat("a", 256), ""},
		{"257 characters", strings.Repeat("a", 257), "Use at most 256 characters."},
		{"7 two-byte runes", strings.Repeat("é", 7), "Use at least 8 characters."},
		{"8 two-byte runes", strings.Repeat("é", 8), ""},
		{"8 four-byte runes", strings.Repeat("😀", 8), ""},
		{"256 four-byte runes", strings.Repeat("😀", 256), ""},
		{"257 three-byte runes", strings.Repeat("€", 257), "Use at most 256 characters."},
		// e + combining acute: two code points, one perceived character.
		{"combining marks count separately", strings.Repeat("e\u0301", 4), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := auth.PasswordProblem(tc.password); got != tc.want {
				t.Errorf("PasswordProblem = %q, want %q", got, tc.want)
			}
		})
	}
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
