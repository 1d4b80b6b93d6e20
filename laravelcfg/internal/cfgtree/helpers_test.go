package cfgtree

import (
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

func arr(kv ...any) php.Value { return phptest.Arr(kv...) }

func requirePHP(t *testing.T) {
	t.Helper()
	phptest.RequireClasses(t, `Illuminate\Support\ConfigurationUrlParser`)
}
