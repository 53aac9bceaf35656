package events

// FollowInterval is followInterval, for the tests that bound the passes over the log.
const FollowInterval = followInterval

// Position is the seq of the last event the hub has broadcast or skipped.
func Position(h *Hub) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.position
}
