<?php
// Test oracle: Illuminate\Support\ConfigurationUrlParser (Debian 8.83, the
// same algorithm as 10-13) on each JSON-encoded config array given as an
// argument; prints one JSON result per line.
require 'Illuminate/autoload.php';

use Illuminate\Support\ConfigurationUrlParser;

$parser = new ConfigurationUrlParser;
foreach (array_slice($argv, 1) as $arg) {
    try {
        echo json_encode($parser->parseConfiguration(json_decode($arg, true))), "\n";
    } catch (Throwable $e) {
        echo json_encode(['error' => $e->getMessage()]), "\n";
    }
}
