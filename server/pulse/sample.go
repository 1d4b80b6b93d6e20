package pulse

import (
	"math"
	"math/rand/v2"
)

// sample returns how many of n messages a per-message Lottery with odds p
// would have recorded. Counting every message with one atomic add and
// drawing the binomial here, once per interval, gives the same distribution
// as Reverb's coin toss per message without a random number on the hot
// path. Exact for p >= 1 or p <= 0; a loop of coin tosses for small n; the
// normal approximation (rounded, clamped) for large n, where it is
// indistinguishable on a dashboard.
func sample(n int64, p float64, r *rand.Rand) int64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	}
	if n <= 1000 {
		k := int64(0)
		for range n {
			if r.Float64() < p {
				k++
			}
		}
		return k
	}
	mean := float64(n) * p
	sd := math.Sqrt(mean * (1 - p))
	k := int64(math.Round(mean + sd*r.NormFloat64()))
	return max(0, min(n, k))
}
