package events

// LiveSubscribers is how many subscribers take events from the hub (the others catch up
// from the log).
func LiveSubscribers(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.live)
}

// QueuedEvents is how many events the hub holds in its subscribers' channels.
func QueuedEvents(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.live {
		n += s.feed.queued()
	}
	return n
}
