import {
  command,
  defineRole,
  directory,
  file,
  group,
  link,
  line,
  packages,
  service,
  sh,
  template,
  Type,
  user,
} from 'play';

/**
 * The engine's own test role for the lab: a package and its systemd service, templates, plain files, a link,
 * a line, users and a group, and handlers that leave a trace.
 */
export default defineRole({
  name: 'engine',
  dir: import.meta.dirname,
  schema: Type.Object({ motd: Type.String(), teachers: Type.Array(Type.String()) }),
  defaults: { motd: 'Managed by play', teachers: ['guru1', 'guru2'] },
  tasks: ({ host, vars }) => [
    packages({ names: ['apache2'] }),
    service({ name: 'apache2', state: 'started', enabled: true }),
    directory({ path: '/srv/play', mode: '0755' }),
    template({ src: 'index.html.ejs', dest: '/srv/play/index.html', mode: '0644', vars: { host } }),
    template({
      src: 'play-test.conf.ejs',
      dest: '/etc/apache2/conf-available/play-test.conf',
      mode: '0644',
      validate: (path) => sh`grep -q '^Alias /play ' ${path}`,
      notify: ['reload apache2', 'log reload'],
    }),
    link({
      path: '/etc/apache2/conf-enabled/play-test.conf',
      target: '../conf-available/play-test.conf',
      notify: ['reload apache2', 'log reload'],
    }),
    file({ path: '/etc/motd', content: `${vars.motd}\n`, mode: '0644' }),
    line({ path: '/etc/apache2/envvars', regexp: /^umask /, line: 'umask 022', notify: 'log reload' }),
    group({ name: 'teachers' }),
    ...vars.teachers.map((name) => user({ name, groups: ['teachers'], shell: '/bin/bash' })),
    command({
      cmd: sh`a2enmod -q headers`,
      creates: '/etc/apache2/mods-enabled/headers.load',
      notify: 'reload apache2',
    }),
  ],
  handlers: () => [
    service({ taskName: 'reload apache2', name: 'apache2', state: 'reloaded' }),
    command({ name: 'log reload', cmd: sh`date -u +%FT%TZ >> /var/log/play-handlers.log` }),
  ],
});
