package cli

import (
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets, as HdrHistogram does:
// every power of two is split into 2^histSubBits equal buckets, so a
// quantile read from it is within 1/2^histSubBits (1.6%) of the true value
// at any magnitude, from nanoseconds to minutes, in a fixed 18 KiB.
// Recording is a few instructions and never allocates.
//
// A histogram is not safe for concurrent use: each connection of sluice
// bench records into its own, and they are merged once the run is over.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    int64
	sum    float64 // nanoseconds, for the mean
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	// histMaxBits bounds the recorded values to 2^histMaxBits ns (18
	// minutes); longer ones count as that.
	histMaxBits = 40
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// histIndex returns the bucket of v nanoseconds (v >= 0).
func histIndex(v int64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - (histSubBits + 1)
	return (e+1)<<histSubBits + int(v>>e) - histSub
}

// histLow returns the smallest value that falls in bucket i, and the
// bucket's width.
func histLow(i int) (low, width int64) {
	if i < 2*histSub {
		return int64(i), 1
	}
	e := i>>histSubBits - 1
	m := int64(i&(histSub-1) + histSub)
	return m << e, 1 << e
}

// record adds one duration.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	v = min(v, 1<<histMaxBits-1)
	h.counts[histIndex(v)]++
	h.total++
	h.sum += float64(v)
	h.max = max(h.max, v)
}

// merge adds every value recorded in o to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value under which a fraction q (0 < q <= 1) of the
// recorded values fall: the middle of the bucket that holds the value of
// rank ceil(q*total), never more than the largest value recorded, which
// is what q = 1 returns. It returns 0 when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	rank = min(max(rank, 1), h.total)
	if rank == h.total {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histLow(i)
			return time.Duration(min(low+(width-1)/2, h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the average of the recorded values.
func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}
