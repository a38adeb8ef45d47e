<?php
// siteward: what WordPress itself says is installed (core, PHP, plugins, themes, must-use
// plugins, maintenance mode), read without loading plugin or theme code.
$updates = get_site_transient('update_plugins');
$theme_updates = get_site_transient('update_themes');
$active = (array) get_option('active_plugins', array());
$plugins = array();
foreach (get_plugins() as $file => $data) {
    $slug = strpos($file, '/') === false ? preg_replace('/\.php$/', '', $file) : dirname($file);
    $update = null;
    if (is_object($updates) && isset($updates->response[$file]->new_version)) {
        $update = (string) $updates->response[$file]->new_version;
    }
    $plugins[] = array('slug' => $slug, 'file' => $file, 'version' => (string) $data['Version'],
        'active' => in_array($file, $active, true), 'update' => $update);
}
$stylesheet = get_option('stylesheet');
$themes = array();
foreach (wp_get_themes(array('errors' => null)) as $slug => $theme) {
    $update = null;
    if (is_object($theme_updates) && isset($theme_updates->response[$slug]['new_version'])) {
        $update = (string) $theme_updates->response[$slug]['new_version'];
    }
    $themes[] = array('slug' => (string) $slug, 'version' => (string) $theme->get('Version'),
        'active' => $slug === $stylesheet, 'update' => $update);
}
$mu = array();
foreach (get_mu_plugins() as $file => $data) {
    $mu[] = array('file' => $file, 'version' => (string) $data['Version']);
}
$maintenance = is_file(ABSPATH . '.maintenance');
siteward_answer(array(
    'core' => (string) $GLOBALS['wp_version'],
    'php' => PHP_VERSION,
    'plugins' => $plugins,
    'themes' => $themes,
    'mu_plugins' => $mu,
    'maintenance' => $maintenance,
    'backup_dir' => WP_CONTENT_DIR . '/siteward-backups',
));
