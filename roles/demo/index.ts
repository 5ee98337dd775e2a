import { command, defineRole, directory, file, sh, template, Type } from 'play';

/**
 * A small role that shows every part of play on the controller itself: a directory, a templated file,
 * a plain file, and a handler that runs only when one of them changes.
 */
export default defineRole({
  name: 'demo',
  schema: Type.Object({
    site: Type.String({ minLength: 1 }),
    root: Type.String({ pattern: '^/' }),
    teachers: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9]*$' })),
  }),
  defaults: { root: '/tmp/play-demo', teachers: ['guru1', 'guru2', 'guru3', 'guru4'] },
  tasks: ({ vars }) => [
    directory({ path: vars.root, mode: '0755' }),
    template({ src: 'welcome.txt.ejs', dest: `${vars.root}/welcome.txt`, mode: '0644', notify: 'log change' }),
    file({ path: `${vars.root}/accounts.txt`, content: ['kepsek', ...vars.teachers].join('\n') + '\n', mode: '0640', notify: 'log change' }),
  ],
  handlers: ({ vars }) => [command({ name: 'log change', cmd: sh`date -u +%FT%TZ >> ${`${vars.root}/changes.log`}` })],
});
