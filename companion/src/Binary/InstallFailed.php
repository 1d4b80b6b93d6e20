<?php

namespace ReverbGo\Laravel\Binary;

use RuntimeException;

/**
 * reverb:binary could not install the binary; the message says why and
 * what to do.
 */
class InstallFailed extends RuntimeException
{
    //
}
