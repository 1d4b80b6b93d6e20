<?php

namespace App\Config;

use Illuminate\Support\Str;
use Illuminate\Support\{Arr, Collection as Coll};

// Literals and operators of the evaluator's feature list.
$n = 10_000;
$h = 0x1F + 0b101 + 0o17 + 017;
$f = 1.5e3 + .5;
$neg = -42;
$s = 'single \'quoted\' \\ \n';
$d = "double \"quoted\" \t\x41\101\u{1F600} $n {$n}";
$arr = ['a' => 1, 'b' => [1, 2, 3,], 3 => 'three', 'four', '5' => 'five', '05' => 'zero-five', true => 't', null => 'null-key', 1.7 => 'float'];
$long = array('x' => array(1, 2), 'y' => array());
$spread = [...[1, 2], ...['k' => 'v'], 3];
$counter = 0;
$counter += 5;
$counter .= '!';
$q = null;
$q ??= 'assigned';
$list = [];
$list[] = 'first';
$list['k'] = 'keyed';
$list[] = 'second';
$nested = [];
$nested['a']['b'] = 'deep';

if (env('MODE') === 'a') {
    $mode = 'A';
} elseif (env('MODE') === 'b') {
    $mode = 'B';
} else if (env('MODE') == 0) {
    $mode = 'zero';
} else {
    $mode = 'other';
}

return [
    'n' => $n, 'h' => $h, 'f' => $f, 'neg' => $neg, 's' => $s, 'd' => $d,
    'arr' => $arr, 'long' => $long, 'spread' => $spread, 'counter' => $counter,
    'q' => $q, 'list' => $list, 'nested' => $nested, 'mode' => $mode,
    'bools' => [TRUE, False, NULL, !0, !'0', !'', !'a', !![]],
    'cmp' => [
        1 == '1', 'abc' == 0, null == false, '1e3' == '1000', 'a' === 'a', 1 !== 1.0,
        1 <> 2, 2 < 10, '2' < '10', 'abc' < 'abd', [] == false, null < -1, 1.5 >= 1,
        'Z' > 'a', 0 == '', null == 0, '0' == false, ' 1' == 1, '1 ' == 1,
    ],
    'logic' => [true && false, true || false, true and false, false or true, true xor true, !true],
    'elvis' => [0 ?: 'zero', 'x' ?: 'y', null ?? 'nn', $undefinedVar ?? 'undef', $arr['missing'] ?? 'miss'],
    'ternary' => [1 > 2 ? 'yes' : 'no', (true ? 'a' : 'b') . 'c'],
    'arith' => [1 + 2 * 3, (1 + 2) * 3, 7 / 2, 8 / 2, 7 % 3, -7 % 3, 2 ** 10, 2 ** -1, '5' + 5, '1.5' + 1, 10 - 2 - 3, PHP_INT_MAX + 1],
    'concat' => ['a' . 1 . 1.5 . true . null . false, 1 . '', 1.0 . '', 0.1 + 0.2 . ''],
    'casts' => [(string) 12, (int) '12abc', (integer) 3.9, (bool) '0', (boolean) 'false', (float) '1.5x', (array) 'x', (array) null, (int) true, (string) false, (string) 1.0, (int) ' 42 '],
    'consts' => [PHP_EOL, PHP_URL_HOST, DIRECTORY_SEPARATOR, Str::class, Coll::class, \Foo\Bar::class],
    'strings' => [
        strtolower('ÀBC'), strtoupper('abc'), ucfirst('hello'), trim('  x  '), trim('xxhixx', 'x'),
        rtrim('1.000', '0'), ltrim('0012', '0'), trim('[a]', '[]'), trim('abcz', 'a..c'),
        str_replace('a', 'b', 'banana'), str_replace(['a', 'n'], ['1', '2'], 'banana'),
        str_replace(['a', 'b'], 'x', ['ab', 'ba']),
        str_contains('haystack', 'st'), str_starts_with('haystack', 'hay'), str_ends_with('haystack', 'ack'),
        implode(',', [1, 2, 3]), join('-', ['a', 'b']), implode(['x', 'y']),
        explode(',', 'a,b,,c'), explode(',', 'a,b,c', 2), explode(',', 'a,b,c', -1), explode(',', ''),
        sprintf('%s:%d%%', 'host', '6379'), sprintf('%05d|%-4s|%04.1f|%x', 42, 'ab', 3.14159, 255),
        strlen('héllo'), substr('abcdef', 1, 3), substr('abcdef', -2),
    ],
    'arrays' => [
        array_values(['a' => 1, 'b' => 2]), array_keys(['a' => 1, 'b' => 2]),
        array_unique([1, '1', 2, 2.0, 'a', 'A']), array_merge(['a' => 1, 5 => 'x'], ['a' => 2, 9 => 'y']),
        array_filter([1, 0, 2, null, '', 'a', false, []]), array_filter(['a' => 1, 'b' => 2], fn ($v) => $v > 1),
        array_filter(['a' => 1, 'bb' => 2], fn ($k) => strlen($k) > 1, ARRAY_FILTER_USE_KEY),
        array_map('strtoupper', ['x' => 'a', 'y' => 'b']), array_map(null, [1, 2], ['a', 'b']),
        array_map(fn ($a, $b) => $a . $b, [1, 2], ['a', 'b']),
        in_array('1', [1, 2, 3]), in_array('1', [1, 2, 3], true), in_array('abc', [0]),
        count([1, 2, 3]), count(['a' => [1, 2]], COUNT_RECURSIVE), is_null(null), is_null(0),
        intval('42abc'), intval('0x1A', 16), intval('012', 0), intval(' 12 '), array_key_exists('a', ['a' => null]),
        isset($arr['a']), isset($arr['missing']), empty($arr['b']), empty($undefinedVar),
    ],
    'urls' => [
        parse_url('https://user:pass@example.com:8443/path/x?q=1#frag'),
        parse_url('redis://127.0.0.1:6379', PHP_URL_PORT),
        parse_url('localhost:8080'),
        parse_url('//cdn.example.com/x'),
        parse_url('/just/a/path?x=1'),
        parse_url('tls://[::1]:6380'),
        parse_url('http:///broken'),
        parse_url('example.com', PHP_URL_HOST),
    ],
    'slugs' => [
        Str::slug('Laravel', '_'), Str::slug('My App'), Str::slug('My-App_2', '_'), Str::slug('My-App_2'),
        Str::slug('Café Crème', '_'), Str::slug('ACME@Corp', '_'), Str::slug('Ünïcödé Straße', '_'),
        Str::slug(''), Str::slug('  --Hello   World--  '), Str::slug("tab\tand\nnewline", '_'),
        Str::lower('ÀBC'),
    ],
    'closures' => [
        (fn ($x) => $x * 2)(21),
        (static function () { return 'static'; })(),
        array_map(fn ($x) => $x . $n, [1]),
        value(fn () => 'valued'),
        env('NOT_SET_ANYWHERE', fn () => 'closure default'),
    ],
    'match' => match (env('MODE', 'b')) { 'a' => 1, 'b', 'c' => 2, default => 3 },
    'heredoc' => <<<EOT
        Heredoc $n
          indented {$mode}
        EOT,
    'nowdoc' => <<<'EOT'
    raw $n
    EOT,
];
