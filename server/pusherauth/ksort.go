package pusherauth

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
