package auth

// SetIDKey replaces h's argon2 function; call it before h is used.
func SetIDKey(h *Hasher, f func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte) {
	h.idKey = f
}

// LimiterKeys returns how many keys l remembers.
func LimiterKeys(l *Limiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) != l.recency.Len() {
		panic("the limiter's map and list disagree")
	}
	return len(l.buckets)
}

// SessionCacheLen returns how many sessions c holds.
func SessionCacheLen(c *SessionCache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// VerifiedTokens returns how many verified tokens t remembers, and the most it may.
func VerifiedTokens(t *Tokens) (n, bound int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.verified), verifiedTokens
}
