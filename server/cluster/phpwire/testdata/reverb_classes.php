<?php
// Classes of Laravel Reverb's shape (property names, order, visibility and
// types as in reverb-protocol.md §10.4), written for the interop tests:
// PHP checks typed properties on unserialize(), so a wrong type fails.

namespace Laravel\Reverb {
    class Application
    {
        public function __construct(
            protected string $id,
            protected string $key,
            protected string $secret,
            protected int $pingInterval,
            protected int $activityTimeout,
            protected array $allowedOrigins,
            protected int $maxMessageSize,
            protected ?int $maxConnections = null,
            protected string $acceptClientEventsFrom = 'all',
            protected ?array $rateLimiting = null,
            protected array $options = [],
        ) {
        }

        public function view(): array
        {
            return get_object_vars($this);
        }
    }
}

namespace Laravel\Reverb\Protocols\Pusher {
    use Laravel\Reverb\Application;

    enum MetricType: string
    {
        case CONNECTIONS = 'connections';
        case CHANNEL = 'channel';
        case CHANNELS = 'channels';
        case CHANNEL_USERS = 'channel_users';
    }

    class PendingMetric
    {
        protected ?int $subscribers = null;

        protected array $data = [];

        public function __construct(
            protected string $key,
            protected Application $application,
            protected MetricType $type,
            protected array $options = [],
        ) {
        }

        public function view(): array
        {
            $v = get_object_vars($this);
            $v['application'] = $this->application->view();
            $v['type'] = $this->type->value;
            return $v;
        }
    }
}
