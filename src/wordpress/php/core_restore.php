<?php
// siteward: puts back the core files a `core` step moved aside, WITHOUT booting WordPress (the
// new core may not boot). Reads the names from `<backup>/manifest.json`: each installed entry is
// removed and, when the backup holds it, moved back; an entry the old core did not have is
// removed. wp-content and wp-config.php were never touched. Answers like the other scripts.
$root = rtrim($argv[1], '/');
$backup = json_decode($argv[2] ?? '{}', true)['backup'] ?? '';

function siteward_restore($root, $backup) {
    $manifest = "$backup/manifest.json";
    if (!is_file($manifest)) {
        return true; // the backup was never made: nothing was moved
    }
    $names = json_decode(file_get_contents($manifest), true);
    if (!is_array($names)) {
        return "unreadable `$manifest`";
    }
    foreach ($names as $name) {
        if (!is_string($name) || $name === '' || strpbrk($name, "/\0") !== false || $name === '.' || $name === '..') {
            return "bad name in `$manifest`";
        }
        $saved = "$backup/files/$name";
        $saved_exists = file_exists($saved) || is_link($saved);
        $target = "$root/$name";
        // What the new core put there goes (an entry the old core did not have, too).
        if (!siteward_rm($target)) {
            return "cannot remove `$target`";
        }
        if ($saved_exists && !siteward_move($saved, $target)) {
            return "cannot move `$saved` back to `$target`";
        }
    }
    if (function_exists('opcache_reset')) {
        opcache_reset();
    }
    return true;
}

$r = siteward_restore($root, $backup);
echo "\n--siteward-json-begin--\n", json_encode(array('done' => $r === true ? 1 : 0, 'error' => $r === true ? null : $r)), "\n--siteward-json-end--\n";
exit($r === true ? 0 : 1);
