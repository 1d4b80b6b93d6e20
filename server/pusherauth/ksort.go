package pusherauth

import (
	"math"
	"strconv"
	"strings"
)

// compareKeys is PHP 8's ksort comparison of two array keys (SORT_REGULAR):
// ints numerically, two strings with zendi_smart_strcmp (numerically when
// both are numeric strings), an int and a string numerically when the string
// is numeric, else as strings. Ordinary parameter names are non-numeric, so
// this is plain byte order for every real client.
func compareKeys(a, b ParamKey) int {
	switch {
	case a.IsInt && b.IsInt:
		return cmp3(a.I, b.I)
	case !a.IsInt && !b.IsInt:
		return smartStrcmp(a.S, b.S)
	case a.IsInt:
		return compareLongToString(a.I, b.S)
	default:
		return -compareLongToString(b.I, a.S)
	}
}

func cmp3[T int64 | float64](a, b T) int {
	switch {
	case a > b:
		return 1
	case a < b:
		return -1
	}
	return 0
}

func binaryStrcmp(a, b string) int {
	return strings.Compare(a, b)
}

func compareLongToString(l int64, s string) int {
	kind, li, d, _ := numericString(s)
	switch kind {
	case numLong:
		return cmp3(l, li)
	case numDouble:
		return cmp3(float64(l), d)
	}
	return binaryStrcmp(strconv.FormatInt(l, 10), s)
}

func smartStrcmp(a, b string) int {
	k1, l1, d1, o1 := numericString(a)
	if k1 != numNone {
		k2, l2, d2, o2 := numericString(b)
		if k2 != numNone {
			if o1 != 0 && o1 == o2 && d1-d2 == 0 {
				return binaryStrcmp(a, b)
			}
			if k1 == numDouble || k2 == numDouble {
				switch {
				case k1 != numDouble:
					if o2 != 0 {
						return -o2
					}
					d1 = float64(l1)
				case k2 != numDouble:
					if o1 != 0 {
						return o1
					}
					d2 = float64(l2)
				case d1 == d2 && math.IsInf(d1, 0):
					return binaryStrcmp(a, b)
				}
				return cmp3(d1-d2, 0)
			}
			return cmp3(l1, l2)
		}
	}
	return binaryStrcmp(a, b)
}

type numKind uint8

const (
	numNone numKind = iota
	numLong
	numDouble
)

// numericString is PHP 8's is_numeric_string_ex without allow_errors:
// optional leading and trailing whitespace, a sign, decimal digits with an
// optional fraction and exponent. Integer syntax that overflows int64 is a
// double with oflow = ±1.
func numericString(s string) (kind numKind, l int64, d float64, oflow int) {
	const ws = " \t\n\r\v\f"
	t := strings.TrimLeft(s, ws)
	t = strings.TrimRight(t, ws)
	if t == "" {
		return numNone, 0, 0, 0
	}
	i := 0
	if t[i] == '+' || t[i] == '-' {
		i++
	}
	digits := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
		digits++
	}
	isInt := true
	frac := 0
	if i < len(t) && t[i] == '.' {
		isInt = false
		i++
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
			frac++
		}
	}
	if digits == 0 && frac == 0 {
		return numNone, 0, 0, 0
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		j := i + 1
		if j < len(t) && (t[j] == '+' || t[j] == '-') {
			j++
		}
		if j < len(t) && t[j] >= '0' && t[j] <= '9' {
			for j < len(t) && t[j] >= '0' && t[j] <= '9' {
				j++
			}
			i = j
			isInt = false
		}
	}
	if i != len(t) {
		return numNone, 0, 0, 0
	}
	if isInt {
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return numLong, n, 0, 0
		}
		f, _ := strconv.ParseFloat(t, 64)
		if t[0] == '-' {
			return numDouble, 0, f, -1
		}
		return numDouble, 0, f, 1
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !math.IsInf(f, 0) {
		return numNone, 0, 0, 0
	}
	return numDouble, 0, f, 0
}

// zendSort sorts n elements the way PHP's zend_sort does (hybrid insertion
// sort for n ≤ 16, quicksort with median-of-3/5 pivots above). PHP's key
// comparison is not transitive for odd numeric-looking names, so only the
// same algorithm yields the same order. less-than-or-equal decisions use
// cmp(a, b) > 0 exactly where PHP does; swap exchanges two elements.
func zendSort(base, n int, cmp func(a, b int) int, swap func(a, b int)) {
	for {
		if n <= 16 {
			zendInsertSort(base, n, cmp, swap)
			return
		}
		start, end := base, base+n
		offset := n >> 1
		pivot := start + offset
		if n>>10 != 0 {
			delta := offset >> 1
			sort5(start, start+delta, pivot, pivot+delta, end-1, cmp, swap)
		} else {
			sort3(start, pivot, end-1, cmp, swap)
		}
		swap(start+1, pivot)
		pivot = start + 1
		i, j := pivot+1, end-1
	partition:
		for {
			for cmp(pivot, i) > 0 {
				i++
				if i == j {
					break partition
				}
			}
			j--
			if j == i {
				break partition
			}
			for cmp(j, pivot) > 0 {
				j--
				if j == i {
					break partition
				}
			}
			swap(i, j)
			i++
			if i == j {
				break partition
			}
		}
		swap(pivot, i-1)
		if (i-1)-start < end-i {
			zendSort(start, i-start-1, cmp, swap)
			base, n = i, end-i
		} else {
			zendSort(i, end-i, cmp, swap)
			n = i - start - 1
		}
	}
}

func sort2(a, b int, cmp func(a, b int) int, swap func(a, b int)) {
	if cmp(a, b) > 0 {
		swap(a, b)
	}
}

func sort3(a, b, c int, cmp func(a, b int) int, swap func(a, b int)) {
	if cmp(a, b) <= 0 {
		if cmp(b, c) <= 0 {
			return
		}
		swap(b, c)
		if cmp(a, b) > 0 {
			swap(a, b)
		}
		return
	}
	if cmp(c, b) <= 0 {
		swap(a, c)
		return
	}
	swap(a, b)
	if cmp(b, c) > 0 {
		swap(b, c)
	}
}

func sort4(a, b, c, d int, cmp func(a, b int) int, swap func(a, b int)) {
	sort3(a, b, c, cmp, swap)
	if cmp(c, d) > 0 {
		swap(c, d)
		if cmp(b, c) > 0 {
			swap(b, c)
			if cmp(a, b) > 0 {
				swap(a, b)
			}
		}
	}
}

func sort5(a, b, c, d, e int, cmp func(a, b int) int, swap func(a, b int)) {
	sort4(a, b, c, d, cmp, swap)
	if cmp(d, e) > 0 {
		swap(d, e)
		if cmp(c, d) > 0 {
			swap(c, d)
			if cmp(b, c) > 0 {
				swap(b, c)
				if cmp(a, b) > 0 {
					swap(a, b)
				}
			}
		}
	}
}

func zendInsertSort(base, n int, cmp func(a, b int) int, swap func(a, b int)) {
	switch n {
	case 0, 1:
		return
	case 2:
		sort2(base, base+1, cmp, swap)
		return
	case 3:
		sort3(base, base+1, base+2, cmp, swap)
		return
	case 4:
		sort4(base, base+1, base+2, base+3, cmp, swap)
		return
	case 5:
		sort5(base, base+1, base+2, base+3, base+4, cmp, swap)
		return
	}
	start, end := base, base+n
	sentry := start + 6
	for i := start + 1; i < sentry; i++ {
		j := i - 1
		if cmp(j, i) <= 0 {
			continue
		}
		for j != start {
			j--
			if cmp(j, i) <= 0 {
				j++
				break
			}
		}
		for k := i; k > j; k-- {
			swap(k, k-1)
		}
	}
	for i := sentry; i < end; i++ {
		j := i - 1
		if cmp(j, i) <= 0 {
			continue
		}
		for {
			j -= 2
			if cmp(j, i) <= 0 {
				j++
				if cmp(j, i) <= 0 {
					j++
				}
				break
			}
			if j == start {
				break
			}
			if j == start+1 {
				j--
				if cmp(i, j) > 0 {
					j++
				}
				break
			}
		}
		for k := i; k > j; k-- {
			swap(k, k-1)
		}
	}
}
