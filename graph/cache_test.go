package graph

import (
	"context"
	"slices"
	"testing"
)

func TestByteLRUEvictsTheLeastRecentlyUsedByBytes(t *testing.T) {
	ctx := context.Background()
	c := newByteLRU(10, 6, func(k, v string) int { return len(v) })
	c.Add(ctx, "a", "aaaa")
	c.Add(ctx, "b", "bbbb")
	c.Get(ctx, "a")            // b is now the least recently used
	c.Add(ctx, "c", "cc")      // 10 bytes: all fit
	c.Add(ctx, "d", "dd")      // 12: b goes
	c.Add(ctx, "e", "eeeeeee") // over the entry limit: not kept, nothing evicted
	c.Add(ctx, "a", "aaaaaa")  // replaces a: 6 + 2 + 2
	var kept []string
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if _, ok := c.Get(ctx, k); ok {
			kept = append(kept, k)
		}
	}
	if want := []string{"a", "c", "d"}; !slices.Equal(kept, want) || c.usedBytes() != 10 {
		t.Fatalf("kept %v using %d bytes, want %v using 10", kept, c.usedBytes(), want)
	}
}
