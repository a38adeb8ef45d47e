<?php
// siteward: shared prelude of every script. Bootstraps WordPress from the root in $argv[1]
// without running any plugin or theme code (so a broken plugin cannot stop inventory or
// rollback) and without honouring maintenance mode; answers one JSON document between markers
// on stdout, whatever WordPress prints around it.
error_reporting(E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING);
ini_set('display_errors', 'stderr');
$siteward_root = rtrim($argv[1], '/');
$siteward_args = json_decode($argv[2] ?? '{}', true);
$GLOBALS['siteward_skip_code'] = true;
$siteward_empty = function ($v) { return $GLOBALS['siteward_skip_code'] ? array() : $v; };
$siteward_no_template = function ($v) { return $GLOBALS['siteward_skip_code'] ? 'siteward-skipped' : $v; };
$siteward_filter = function ($cb, $args = 1) { return array(array('function' => $cb, 'accepted_args' => $args)); };
$wp_filter = array(
    'option_active_plugins' => array(-99999 => $siteward_filter($siteward_empty)),
    'site_option_active_sitewide_plugins' => array(-99999 => $siteward_filter($siteward_empty)),
    'template' => array(-99999 => $siteward_filter($siteward_no_template)),
    'stylesheet' => array(-99999 => $siteward_filter($siteward_no_template)),
    'enable_maintenance_mode' => array(99999 => $siteward_filter(function () { return false; })),
    'after_setup_theme' => array(-99999 => $siteward_filter(function () { $GLOBALS['siteward_skip_code'] = false; }, 0)),
);
$_SERVER['HTTP_HOST'] = $_SERVER['HTTP_HOST'] ?? 'localhost';
$_SERVER['SERVER_NAME'] = $_SERVER['SERVER_NAME'] ?? 'localhost';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REQUEST_URI'] = '/';
define('WP_USE_THEMES', false);
if (!is_file($siteward_root . '/wp-load.php')) {
    fwrite(STDERR, "no WordPress at `$siteward_root` (wp-load.php is missing)\n");
    exit(3);
}
ob_start();
require $siteward_root . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once ABSPATH . 'wp-admin/includes/theme.php';
ob_end_clean();

function siteward_answer($value) {
    echo "\n--siteward-json-begin--\n", json_encode($value, JSON_UNESCAPED_SLASHES), "\n--siteward-json-end--\n";
}
