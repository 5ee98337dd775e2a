import { defineRole, packages, service, template, Type, user } from 'play';

/** The template of the no-op role's 30 files (the Ansible twin's bench/ansible/noop-file.j2 renders the same). */
export const NOOP_TEMPLATE = '# file <%= index %> of <%= site %>\nvalue = <%= index * 7 %>\n';

/**
 * The role the no-op benches run (bench:noop, bench:versus-ansible): 30 files from one template in the host's
 * `root` folder, 5 packages, 3 users and 2 services, all of them things this machine already has in the state
 * they are in, so once converged a run changes nothing.
 */
export function noopBenchRole(templateFile: string) {
  return defineRole({
    name: 'noop-bench',
    dir: import.meta.dirname,
    schema: Type.Object({ site: Type.String(), root: Type.String() }),
    tasks: ({ vars }) => [
      ...Array.from({ length: 30 }, (_, index) =>
        template({ src: templateFile, dest: `${vars.root}/file-${index}.conf`, vars: { index }, mode: '0644' }),
      ),
      packages({ names: ['bash', 'coreutils', 'dpkg', 'grep', 'sed'] }),
      user({ name: 'daemon' }),
      user({ name: 'bin' }),
      user({ name: 'nobody' }),
      service({ name: 'procps', state: 'started' }),
      service({ name: 'ssh', enabled: true }),
    ],
  });
}
