//go:build !unix

package doctor

func ownerName(string) string { return "" }
