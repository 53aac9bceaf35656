package storage

import "testing"

// Every edge of every page encodes a cursor, and every paged request decodes one.

func BenchmarkEncodeCursor(b *testing.B) {
	it := &Item{ID: 123456, NameKey: "a fairly ordinary item name", PriceCents: 1799}
	for _, key := range itemKeys {
		b.Run(key.field, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodeCursor(key, it)
			}
		})
	}
}

func BenchmarkDecodeCursor(b *testing.B) {
	it := &Item{ID: 123456, NameKey: "a fairly ordinary item name", PriceCents: 1799}
	for _, key := range itemKeys {
		c := encodeCursor(key, it)
		b.Run(key.field, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeCursor(c, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
