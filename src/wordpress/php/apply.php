<?php
// siteward: carries out a list of steps with WordPress's own functions, in the order given, and
// answers what was done. Stops at the first failure (the caller restores). Steps:
//   backup {kind, slug, to}        copy the installed plugin/theme directory to `to`
//   maintenance {on}               WordPress's `.maintenance` file
//   install {kind, zip}            Plugin_Upgrader / Theme_Upgrader with overwrite_package
//   activate / deactivate {kind, slug}
//   delete {kind, slug}
//   restore {kind, slug, from}     put a backed-up directory back (`from` null: remove a new install)
//   active_plugins {files}         set the active plugin list exactly (rollback)
//   discard {dir}                  remove a backup directory
//   core {zip, backup}             unzip a core zip (`wordpress/` at its top) and, for each entry
//                                  in it but wp-content, move the installed one into
//                                  `backup/files` (named in `backup/manifest.json` first) and
//                                  copy the new one in; wp-config.php and wp-content stay
//   upgrade_db                     wp_upgrade() (run in a process that booted the new core)
require_once ABSPATH . 'wp-admin/includes/admin.php';
require_once ABSPATH . 'wp-admin/includes/class-wp-upgrader.php';
wp_set_current_user(siteward_admin());
if (!function_exists('WP_Filesystem') || !WP_Filesystem()) {
    siteward_answer(array('done' => 0, 'error' => 'cannot use the file system directly (FS_METHOD)'));
    exit(1);
}

function siteward_admin() {
    $admins = get_users(array('role' => 'administrator', 'number' => 1, 'fields' => 'ID'));
    return $admins ? (int) $admins[0] : 0;
}

function siteward_dir($kind, $slug) {
    return ($kind === 'theme' ? get_theme_root() : WP_PLUGIN_DIR) . '/' . $slug;
}

function siteward_plugin_file($slug) {
    foreach (array_keys(get_plugins()) as $file) {
        if ($file === $slug . '.php' || strpos($file, $slug . '/') === 0) {
            return $file;
        }
    }
    return null;
}

function siteward_core($zip, $backup) {
    $work = "$backup/new";
    $r = unzip_file($zip, $work);
    if (is_wp_error($r)) {
        return 'cannot unzip the core zip: ' . $r->get_error_message();
    }
    $from = "$work/wordpress";
    if (!is_file("$from/wp-includes/version.php") || !is_file("$from/wp-settings.php")) {
        return 'not a WordPress core zip: no `wordpress/wp-includes/version.php` and `wordpress/wp-settings.php` in it';
    }
    // Never replaced: the site's content, its configuration, and files WordPress does not ship.
    $keep = array('.', '..', 'wp-content', 'wp-config.php', '.maintenance', '.htaccess');
    if (!mkdir("$backup/files", 0755, true)) {
        return "cannot write the backup `$backup`";
    }
    // The manifest names each entry before it changes, so that a restore touches exactly those.
    $done = array();
    foreach (array_values(array_diff(scandir($from), $keep)) as $name) {
        $done[] = $name;
        if (file_put_contents("$backup/manifest.json", json_encode($done)) === false) {
            return "cannot write the backup `$backup`";
        }
        $to = ABSPATH . $name;
        if ((file_exists($to) || is_link($to)) && !siteward_move($to, "$backup/files/$name")) {
            return "cannot move `$to` aside";
        }
        if (!siteward_copy("$from/$name", $to)) {
            return "cannot copy `$name` into place";
        }
    }
    siteward_rm($work);
    return true;
}

function siteward_step($s) {
    $kind = $s['kind'] ?? 'plugin';
    $slug = $s['slug'] ?? '';
    switch ($s['step']) {
        case 'backup':
            $dir = siteward_dir($kind, $slug);
            return !is_dir($dir) || siteward_copy($dir, $s['to']) ? true : "cannot copy `$dir` to `{$s['to']}`";
        case 'maintenance':
            $file = ABSPATH . '.maintenance';
            if ($s['on']) {
                return file_put_contents($file, '<?php $upgrading = ' . time() . '; ?>') !== false ? true : "cannot write `$file`";
            }
            return siteward_rm($file) ? true : "cannot remove `$file`";
        case 'install':
            $skin = new WP_Ajax_Upgrader_Skin();
            $upgrader = $kind === 'theme' ? new Theme_Upgrader($skin) : new Plugin_Upgrader($skin);
            $r = $upgrader->install($s['zip'], array('overwrite_package' => true));
            if ($r === true) {
                wp_clean_plugins_cache();
                wp_clean_themes_cache();
                return true;
            }
            $why = is_wp_error($r) ? $r->get_error_message() : implode('; ', $skin->get_error_messages());
            return "installing `$slug` failed: " . ($why !== '' ? $why : 'the upgrader refused the package');
        case 'activate':
            if ($kind === 'theme') {
                $theme = wp_get_theme($slug);
                if (!$theme->exists()) {
                    return "theme `$slug` is not installed";
                }
                switch_theme($slug);
                return true;
            }
            $file = siteward_plugin_file($slug);
            if ($file === null) {
                return "plugin `$slug` is not installed";
            }
            $r = activate_plugin($file, '', false, true);
            return is_wp_error($r) ? "activating `$slug` failed: " . $r->get_error_message() : true;
        case 'deactivate':
            $file = siteward_plugin_file($slug);
            if ($file !== null) {
                deactivate_plugins(array($file), true);
            }
            return true;
        case 'delete':
            if ($kind === 'theme') {
                $r = delete_theme($slug);
            } else {
                $file = siteward_plugin_file($slug);
                $r = $file === null ? true : delete_plugins(array($file));
            }
            return is_wp_error($r) ? "deleting `$slug` failed: " . $r->get_error_message() : ($r ? true : "deleting `$slug` failed");
        case 'restore':
            // `from` null: it was not installed before, so removing it restores. A backup that
            // was never made means nothing was changed: left as it is.
            $dir = siteward_dir($kind, $slug);
            if ($s['from'] !== null && !is_dir($s['from'])) {
                return true;
            }
            if (!siteward_rm($dir)) {
                return "cannot remove `$dir`";
            }
            if ($s['from'] !== null && !rename($s['from'], $dir)) {
                return "cannot move `{$s['from']}` back to `$dir`";
            }
            wp_clean_plugins_cache();
            wp_clean_themes_cache();
            return true;
        case 'active_plugins':
            update_option('active_plugins', array_values($s['files']));
            return true;
        case 'discard':
            if (!siteward_rm($s['dir'])) {
                return "cannot remove `{$s['dir']}`";
            }
            @rmdir(dirname($s['dir'])); // only when no other apply's backups are there
            return true;
        case 'core':
            return siteward_core($s['zip'], $s['backup']);
        case 'upgrade_db':
            require_once ABSPATH . 'wp-admin/includes/upgrade.php';
            wp_upgrade();
            return true;
    }
    return "unknown step `{$s['step']}`";
}

$done = 0;
foreach ($siteward_args['steps'] as $s) {
    $r = siteward_step($s);
    if ($r !== true) {
        siteward_answer(array('done' => $done, 'error' => $r));
        exit(1);
    }
    $done++;
}
siteward_answer(array('done' => $done, 'error' => null));
