// The polkit rule (data/org.myservicebus.Broker1.rules), run the way polkitd runs rules files:
// it grants org.myservicebus.Broker1.manage to the members of the broker's DBusAdminGroup default
// group (MSB_DEFAULT_DBUS_ADMIN_GROUP in src/common/msb-settings.h) and to nobody else, and the
// Debian package's sysusers file creates that group.
// Usage: node check-polkit-rules.js RULES_FILE SETTINGS_H SYSUSERS_FILE
'use strict';
const fs = require('fs');
const vm = require('vm');

const [rulesPath, settingsPath, sysusersPath] = process.argv.slice(2);
function fail(msg) {
    console.error('FAIL: ' + msg);
    process.exit(1);
}

const m = /#define MSB_DEFAULT_DBUS_ADMIN_GROUP\s+"([^"]+)"/.exec(fs.readFileSync(settingsPath, 'utf8'));
if (!m)
    fail(`no MSB_DEFAULT_DBUS_ADMIN_GROUP in ${settingsPath}`);
const group = m[1];

const sysusers = fs.readFileSync(sysusersPath, 'utf8').split('\n');
if (!sysusers.some(line => new RegExp(`^g\\s+${group.replace(/[.$-]/g, '\\$&')}\\s`).test(line)))
    fail(`${sysusersPath} does not create the group ${group}`);

const rules = [];
const YES = 'yes';
const sandbox = {
    polkit: {
        Result: {YES, NO: 'no', AUTH_ADMIN: 'auth_admin', AUTH_ADMIN_KEEP: 'auth_admin_keep',
                 NOT_HANDLED: null},
        addRule: f => rules.push(f),
        log: () => {},
    },
};
vm.runInNewContext(fs.readFileSync(rulesPath, 'utf8'), sandbox, {filename: rulesPath});
if (rules.length === 0)
    fail(`${rulesPath} adds no rule`);

function decide(actionId, groups) {
    const subject = {user: 'someone', groups, isInGroup: g => groups.includes(g), local: true,
                     active: true};
    for (const rule of rules) {
        const result = rule({id: actionId, lookup: () => undefined}, subject);
        if (result !== undefined && result !== null)
            return result;
    }
    return undefined;
}

const manage = 'org.myservicebus.Broker1.manage';
if (decide(manage, ['users', group]) !== YES)
    fail(`a member of ${group} is not granted ${manage}`);
if (decide(manage, ['users', 'myservicebus', 'sudo']) !== undefined)
    fail(`someone outside ${group} gets an answer for ${manage}; the action's defaults must decide`);
if (decide('org.freedesktop.systemd1.manage-units', [group]) !== undefined)
    fail(`the rule answers for an action that is not the broker's`);
console.log(`polkit rules ok: ${manage} for the group ${group}`);
