import { definePlaybook, file, line } from 'play';
import inventory from '../../../inventory/lab.ts';
import { schoolPlaybook } from '../../../roles/school/index.ts';

/**
 * The school's site with one bad change on the primary: port 25's smtpd taken out of master.cf (and postfix
 * reloaded), as a broken deploy would. The backup would get a marker file, if its batch ever ran: the health gate
 * after the primary's batch must stop the run before that.
 */
const site = schoolPlaybook(inventory);
export default definePlaybook({
  ...site,
  // The bad change in the servers' play (the first, one server at a time); the site's later plays as they are.
  plays: site.plays.map((play, index) =>
    index > 0
      ? play
      : {
          ...play,
          tasks: ({ host }: { host: string }) =>
            host === 'primary'
              ? [
                  line({
                    name: 'a bad change',
                    path: '/etc/postfix/master.cf',
                    regexp: /^smtp +inet /,
                    line: '#smtp inet (taken out by a bad deploy)',
                    notify: 'reload postfix',
                  }),
                ]
              : [
                  file({
                    name: 'the backup was touched',
                    path: '/etc/play-gate-marker',
                    content: 'the backup batch ran\n',
                  }),
                ],
        },
  ),
});
