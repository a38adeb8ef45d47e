<?php
// siteward: file helpers shared by the scripts that change files (`apply.php` and
// `core_restore.php`, which must work without booting WordPress).

function siteward_copy($from, $to) {
    if (is_link($from)) {
        return symlink(readlink($from), $to);
    }
    if (is_dir($from)) {
        if (!is_dir($to) && !mkdir($to, 0755, true)) {
            return false;
        }
        foreach (scandir($from) as $entry) {
            if ($entry !== '.' && $entry !== '..' && !siteward_copy("$from/$entry", "$to/$entry")) {
                return false;
            }
        }
        return true;
    }
    // The original modification time comes back with the file, so that PHP's opcache (which
    // compares it) drops what it cached of the version being rolled back.
    return copy($from, $to) && touch($to, filemtime($from));
}

function siteward_rm($path) {
    if (is_dir($path) && !is_link($path)) {
        foreach (scandir($path) as $entry) {
            if ($entry !== '.' && $entry !== '..') {
                siteward_rm("$path/$entry");
            }
        }
        return rmdir($path);
    }
    // A moved-aside relative symlink may dangle: file_exists() is false, yet it is there.
    return !(file_exists($path) || is_link($path)) || unlink($path);
}

// rename() when it can, else copy and remove (another file system).
function siteward_move($from, $to) {
    return @rename($from, $to) || (siteward_copy($from, $to) && siteward_rm($from));
}
