package chantype

import "testing"

func TestOf(t *testing.T) {
	tests := []struct {
		name                    string
		want                    Kind
		private, presence, cach bool
	}{
		{"", Public, false, false, false},
		{"test-channel", Public, false, false, false},
		{"Private-foo", Public, false, false, false},
		{"private-foo", Private, true, false, false},
		{"privatefoo", Private, true, false, false},
		{"private-encrypted-foo", Private, true, false, false},
		{"private-cache-foo", PrivateCache, true, false, true},
		{"private-cachefoo", Private, true, false, false},
		{"presence-room", Presence, true, true, false},
		{"presencex", Presence, true, true, false},
		{"presence-cache-room", PresenceCache, true, true, true},
		{"cache-foo", Cache, false, false, true},
		{"cachefoo", Cache, false, false, true},
		{"cache", Cache, false, false, true},
	}
	for _, tt := range tests {
		k := Of(tt.name)
		if k != tt.want || k.Private() != tt.private || k.Presence() != tt.presence || k.Cache() != tt.cach {
			t.Errorf("Of(%q) = %v (private %v presence %v cache %v), want %v", tt.name, k, k.Private(), k.Presence(), k.Cache(), tt.want)
		}
	}
}
