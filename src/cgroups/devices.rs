//! Device access rules (`linux.resources.devices`).
//!
//! Both cgroup versions start from "deny everything", as runc does, then
//! apply the spec's rules and runc's default allowed list in order. On v1
//! the kernel's devices controller does the bookkeeping: husk writes each
//! rule to `devices.allow` / `devices.deny`. On v2 there is no controller,
//! so [`Emulator`] replays the same rules with the v1 kernel's semantics
//! (security/device_cgroup.c) and the result is compiled to an eBPF
//! program (see `ebpf.rs`).

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// A validated rule. `major`/`minor` None is the wildcard `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// b'a', b'b' or b'c'
    pub typ: u8,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    /// The line the v1 `devices.allow`/`devices.deny` files take.
    pub fn v1_line(&self) -> String {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let mut acc = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(c);
            }
        }
        format!(
            "{} {}:{} {acc}",
            self.typ as char,
            num(self.major),
            num(self.minor)
        )
    }
}

/// Check one spec rule, with runc's messages; `idx` names it in errors.
pub fn parse_rule(idx: usize, d: &LinuxDeviceCgroup) -> Result<Rule> {
    let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => b'a',
        LinuxDeviceType::B => b'b',
        LinuxDeviceType::C => b'c',
        t => bail!(
            "linux.resources.devices[{idx}]: invalid cgroup device type {:?}",
            t.as_str()
        ),
    };
    let num = |n: Option<i64>, what: &str| -> Result<Option<u32>> {
        match n {
            None | Some(-1) => Ok(None),
            // Linux majors have 12 bits and minors 20: anything that does not
            // fit in 31 bits can never match a device.
            Some(v) if (0..=i32::MAX as i64).contains(&v) => Ok(Some(v as u32)),
            Some(v) => bail!("linux.resources.devices[{idx}]: invalid {what} {v}"),
        }
    };
    let major = num(d.major(), "major")?;
    let minor = num(d.minor(), "minor")?;
    let acc_str = d.access().as_deref().unwrap_or("");
    if acc_str.is_empty() {
        bail!("linux.resources.devices[{idx}]: device access field cannot be empty");
    }
    let mut access = 0;
    for c in acc_str.chars() {
        access |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => bail!("linux.resources.devices[{idx}]: invalid device access {acc_str:?}"),
        };
    }
    Ok(Rule {
        allow: d.allow(),
        typ,
        major,
        minor,
        access,
    })
}

/// The full rule list husk applies: deny all, the spec's rules, then runc's
/// default allowed devices.
pub fn rules(spec: Option<&Vec<LinuxDeviceCgroup>>) -> Result<Vec<Rule>> {
    let mut out = vec![Rule {
        allow: false,
        typ: b'a',
        major: None,
        minor: None,
        access: ACC_ALL,
    }];
    for (i, d) in spec.into_iter().flatten().enumerate() {
        out.push(parse_rule(i, d)?);
    }
    for d in super::default_device_rules() {
        out.push(parse_rule(0, &d)?);
    }
    Ok(out)
}

/// An exception of the v1 devices controller: a rule that goes against the
/// default behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub typ: u8,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// The state of a v1 devices cgroup: a default and a list of exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

impl Emulator {
    pub fn new() -> Emulator {
        Emulator {
            default_allow: true,
            exceptions: vec![],
        }
    }

    /// What writing `rule` to devices.allow/deny does in the kernel
    /// (devcgroup_update_access): type `a` resets the default and drops
    /// every exception; a rule along the default removes access from the
    /// exception with the same type/major/minor; one against it adds to it.
    pub fn apply(&mut self, rule: &Rule) {
        if rule.typ == b'a' {
            self.default_allow = rule.allow;
            self.exceptions.clear();
            return;
        }
        let same =
            |e: &Exception| e.typ == rule.typ && e.major == rule.major && e.minor == rule.minor;
        if rule.allow == self.default_allow {
            for e in self.exceptions.iter_mut().filter(|e| same(e)) {
                e.access &= !rule.access;
            }
            self.exceptions.retain(|e| e.access != 0);
        } else if let Some(e) = self.exceptions.iter_mut().find(|e| same(e)) {
            e.access |= rule.access;
        } else {
            self.exceptions.push(Exception {
                typ: rule.typ,
                major: rule.major,
                minor: rule.minor,
                access: rule.access,
            });
        }
    }

    /// The kernel's verdict for an access (v1 `devcgroup_legacy_check_permission`):
    /// with default deny, some exception must cover all the requested
    /// access; with default allow, no exception may touch any of it.
    pub fn allows(&self, typ: u8, major: u32, minor: u32, access: u8) -> bool {
        let hits = |e: &&Exception| {
            e.typ == typ && e.major.is_none_or(|m| m == major) && e.minor.is_none_or(|m| m == minor)
        };
        if self.default_allow {
            !self
                .exceptions
                .iter()
                .filter(hits)
                .any(|e| e.access & access != 0)
        } else {
            self.exceptions
                .iter()
                .filter(hits)
                .any(|e| access & !e.access == 0)
        }
    }
}

impl Default for Emulator {
    fn default() -> Self {
        Emulator::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(allow: bool, typ: u8, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow,
            typ,
            major,
            minor,
            access,
        }
    }

    #[test]
    fn default_list_after_deny_all() {
        let mut e = Emulator::new();
        for rule in rules(None).unwrap() {
            e.apply(&rule);
        }
        assert!(!e.default_allow);
        assert!(e.allows(b'c', 1, 3, ACC_READ | ACC_WRITE));
        assert!(e.allows(b'c', 136, 7, ACC_READ));
        assert!(e.allows(b'b', 8, 0, ACC_MKNOD));
        assert!(!e.allows(b'b', 8, 0, ACC_READ));
        assert!(!e.allows(b'c', 1, 11, ACC_READ));
    }

    #[test]
    fn partial_deny_and_merge() {
        let mut e = Emulator::new();
        e.apply(&r(false, b'a', None, None, ACC_ALL));
        e.apply(&r(true, b'c', Some(1), Some(3), ACC_READ));
        e.apply(&r(true, b'c', Some(1), Some(3), ACC_WRITE));
        assert!(e.allows(b'c', 1, 3, ACC_READ | ACC_WRITE));
        e.apply(&r(false, b'c', Some(1), Some(3), ACC_WRITE));
        assert!(e.allows(b'c', 1, 3, ACC_READ));
        assert!(!e.allows(b'c', 1, 3, ACC_READ | ACC_WRITE));
        // Allow-all then deny one device: a blacklist.
        e.apply(&r(true, b'a', None, None, ACC_ALL));
        e.apply(&r(false, b'c', Some(1), None, ACC_WRITE));
        assert!(e.allows(b'c', 1, 3, ACC_READ));
        assert!(!e.allows(b'c', 1, 3, ACC_READ | ACC_WRITE));
        assert!(e.allows(b'b', 1, 3, ACC_WRITE));
    }

    #[test]
    fn v1_lines() {
        assert_eq!(
            r(true, b'c', Some(1), Some(3), ACC_ALL).v1_line(),
            "c 1:3 rwm"
        );
        assert_eq!(r(false, b'a', None, None, ACC_ALL).v1_line(), "a *:* rwm");
        assert_eq!(r(true, b'b', None, None, ACC_MKNOD).v1_line(), "b *:* m");
    }

    fn spec(v: serde_json::Value) -> LinuxDeviceCgroup {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parse_rule_types_wildcards_and_access() {
        let r = parse_rule(
            0,
            &spec(serde_json::json!({"allow": true, "access": "rwm"})),
        )
        .unwrap();
        // No type is "a"; no major/minor and -1 are the wildcard.
        assert_eq!(
            r,
            Rule {
                allow: true,
                typ: b'a',
                major: None,
                minor: None,
                access: ACC_ALL
            }
        );
        let r = parse_rule(
            0,
            &spec(serde_json::json!({"allow": false, "type": "b", "major": 8, "minor": -1, "access": "mr"})),
        )
        .unwrap();
        assert_eq!(r.v1_line(), "b 8:* rm");
        assert!(!r.allow);
        // Repeated letters are accepted as the kernel does.
        let r = parse_rule(
            0,
            &spec(serde_json::json!({"allow": true, "type": "c", "access": "rrw"})),
        )
        .unwrap();
        assert_eq!(r.access, ACC_READ | ACC_WRITE);
    }

    #[test]
    fn parse_rule_errors_name_the_index() {
        let e = |v| parse_rule(3, &spec(v)).unwrap_err().to_string();
        assert_eq!(
            e(serde_json::json!({"allow": true, "type": "c"})),
            "linux.resources.devices[3]: device access field cannot be empty"
        );
        assert!(e(serde_json::json!({"allow": true, "access": "rwx"}))
            .contains("invalid device access \"rwx\""));
        assert!(
            e(serde_json::json!({"allow": true, "type": "u", "access": "r"}))
                .contains("invalid cgroup device type \"u\"")
        );
        assert!(
            e(serde_json::json!({"allow": true, "type": "c", "major": -2, "access": "r"}))
                .contains("invalid major -2")
        );
        assert!(e(
            serde_json::json!({"allow": true, "type": "c", "minor": 4294967296i64, "access": "r"})
        )
        .contains("invalid minor"));
    }

    #[test]
    fn rules_start_with_deny_all_and_end_with_the_defaults() {
        let list = vec![spec(
            serde_json::json!({"allow": true, "type": "c", "major": 4, "minor": 1, "access": "rw"}),
        )];
        let rules = rules(Some(&list)).unwrap();
        assert_eq!(rules[0].v1_line(), "a *:* rwm");
        assert!(!rules[0].allow);
        assert_eq!(rules[1].v1_line(), "c 4:1 rw");
        assert_eq!(rules.len(), 2 + super::super::default_device_rules().len());
        let bad = vec![spec(serde_json::json!({"allow": true, "access": ""}))];
        assert!(rules_err(&bad).contains("devices[0]"));
    }

    fn rules_err(list: &Vec<LinuxDeviceCgroup>) -> String {
        rules(Some(list)).unwrap_err().to_string()
    }

    #[test]
    fn emulator_wildcards_and_blacklist_mode() {
        let mut e = Emulator::new();
        assert!(e.allows(b'b', 8, 0, ACC_ALL), "allow-all to start with");
        e.apply(&r(false, b'a', None, None, ACC_ALL));
        e.apply(&r(true, b'c', Some(136), None, ACC_READ | ACC_WRITE));
        assert!(e.allows(b'c', 136, 99, ACC_READ));
        assert!(!e.allows(b'c', 136, 99, ACC_MKNOD));
        assert!(!e.allows(b'b', 136, 99, ACC_READ), "type must match");
        // Removing all access of an exception drops it.
        e.apply(&r(false, b'c', Some(136), None, ACC_READ | ACC_WRITE));
        assert!(e.exceptions.is_empty());
        // A rule of type a resets everything.
        e.apply(&r(true, b'c', Some(1), Some(1), ACC_READ));
        e.apply(&r(true, b'a', None, None, ACC_ALL));
        assert!(e.default_allow && e.exceptions.is_empty());
        assert_eq!(Emulator::default(), Emulator::new());
    }
}
