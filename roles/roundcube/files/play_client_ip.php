<?php
// Managed by play (role roundcube). Passes the browser's address to Dovecot before the login (IMAP ID,
// RFC 2971, field x-originating-ip). Dovecot believes it from loopback only (login_trusted_networks), so its
// logs, its per-address penalty for wrong passwords and fail2ban see each webmail client, not 127.0.0.1.
class play_client_ip extends rcube_plugin
{
    public function init()
    {
        $this->add_hook('storage_connect', [$this, 'storage_connect']);
    }

    public function storage_connect($args)
    {
        $address = rcube_utils::remote_addr();
        if (filter_var($address, FILTER_VALIDATE_IP) !== false) {
            $ident = isset($args['preauth_ident']) && is_array($args['preauth_ident']) ? $args['preauth_ident'] : [];
            $args['preauth_ident'] = array_merge($ident, ['x-originating-ip' => $address]);
        }
        return $args;
    }
}
