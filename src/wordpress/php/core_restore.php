<?php
// siteward: puts back the core files a `core` step moved aside, WITHOUT booting WordPress (the
// new core may not boot). Reads the names from `<backup>/manifest.json`: each installed entry is
// removed and, when the backup holds it, moved back; an entry the old core did not have is
// removed. wp-content and wp-config.php were never touched. Answers like the other scripts.
$root = rtrim($argv[1], '/');
$backup = json_decode($argv[2] ?? '{}', true)['backup'] ?? '';

function siteward_restore_rm($path) {
    if (is_dir($path) && !is_link($path)) {
        foreach (scandir($path) as $entry) {
            if ($entry !== '.' && $entry !== '..') {
                siteward_restore_rm("$path/$entry");
            }
        }
        return rmdir($path);
    }
    return !(file_exists($path) || is_link($path)) || unlink($path);
}

function siteward_restore_copy($from, $to) {
    if (is_dir($from) && !is_link($from)) {
        if (!is_dir($to) && !mkdir($to, 0755, true)) {
            return false;
        }
        foreach (scandir($from) as $entry) {
            if ($entry !== '.' && $entry !== '..' && !siteward_restore_copy("$from/$entry", "$to/$entry")) {
                return false;
            }
        }
        return true;
    }
    return is_link($from) ? symlink(readlink($from), $to) : copy($from, $to) && touch($to, filemtime($from));
}

// rename() when it can, else copy (another file system); the backup is removed later.
function siteward_restore_move($from, $to) {
    return @rename($from, $to) || siteward_restore_copy($from, $to);
}

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
        if (!siteward_restore_rm($target)) {
            return "cannot remove `$target`";
        }
        if ($saved_exists && !siteward_restore_move($saved, $target)) {
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
