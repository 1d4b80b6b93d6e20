package cachestore

import "github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"

// node is one array of the config tree with its dotted path.
type node = cfgtree.Node
