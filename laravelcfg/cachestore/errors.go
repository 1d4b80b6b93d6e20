package cachestore

import "errors"

var errNotImplemented = errors.New("cachestore: not implemented yet")
