<?php

// Path helpers and small string functions.

return [
    'line' => __LINE__,
    'dirs' => [dirname('/a/b/c.php'), dirname('/a/b/c', 2), dirname('file'), dirname('/'), dirname('/a'), dirname('a/b/'), basename('/a/b/c.php', '.php'), basename('/a/b/')],
    'words' => [ucwords('hello big world'), str_pad('5', 3, '0', STR_PAD_LEFT), str_pad('ab', 7, 'xy', 2), str_pad('x', 3)],
    'paths' => [storage_path(), storage_path('app/public'), config_path('reverb.php'), app_path(), public_path('build'), resource_path('js'), base_path('/vendor')],
];
