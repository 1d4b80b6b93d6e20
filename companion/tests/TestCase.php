<?php

namespace ReverbGo\Laravel\Tests;

use Illuminate\Console\Application as Artisan;
use Illuminate\Contracts\Console\Kernel;
use Illuminate\Foundation\Application;
use Illuminate\Support\Facades\Facade;
use PHPUnit\Framework\TestCase as BaseTestCase;

/**
 * Boots the real Laravel app (LaravelApp) in this process for each test,
 * with the package auto-discovered as in any app.
 */
abstract class TestCase extends BaseTestCase
{
    protected ?Application $app = null;

    protected function setUp(): void
    {
        parent::setUp();
        $this->app = $this->createApplication();
    }

    protected function tearDown(): void
    {
        Artisan::forgetBootstrappers();
        Facade::clearResolvedInstances();
        $this->app?->flush();
        $this->app = null;
        parent::tearDown();
    }

    protected function createApplication(): Application
    {
        $app = require REVERB_GO_TEST_APP.'/bootstrap/app.php';
        $app->make(Kernel::class)->bootstrap();

        return $app;
    }

    /**
     * A writable temporary folder, removed after the test.
     */
    protected function tempDir(): string
    {
        $dir = sys_get_temp_dir().'/reverb-go-test-'.bin2hex(random_bytes(6));
        mkdir($dir, 0700, true);
        $this->cleanups[] = fn () => LaravelApp::run(['rm', '-rf', $dir]);

        return $dir;
    }

    /** @var array<int, callable> */
    protected array $cleanups = [];

    /**
     * @after
     */
    public function runCleanups(): void
    {
        foreach (array_reverse($this->cleanups) as $cleanup) {
            $cleanup();
        }

        $this->cleanups = [];
    }
}
