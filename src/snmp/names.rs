//! OID names compiled into the binary: the standard notifications and the objects they carry
//! (SNMPv2-MIB, IF-MIB, ENTITY-MIB, BGP4-MIB, OSPF-TRAP-MIB, UPS-MIB, HOST-RESOURCES-MIB) and
//! the enterprise roots of the vendors Picket's users run. Lookups take the longest known
//! prefix, so `1.3.6.1.2.1.2.2.1.8.3` reads `ifOperStatus.3`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// How a value is best shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Whatever the BER type says.
    Plain,
    /// DisplayString / SnmpAdminString: text.
    Text,
    /// PhysAddress / MacAddress: `00:1a:2b:…`.
    Mac,
    /// InetAddress: 4 bytes IPv4, 16 bytes IPv6.
    InetAddress,
    /// An enumerated INTEGER: value → label.
    Enum(&'static [(i64, &'static str)]),
}

const IF_STATUS: &[(i64, &str)] = &[
    (1, "up"),
    (2, "down"),
    (3, "testing"),
    (4, "unknown"),
    (5, "dormant"),
    (6, "notPresent"),
    (7, "lowerLayerDown"),
];
const BGP_STATE: &[(i64, &str)] = &[
    (1, "idle"),
    (2, "connect"),
    (3, "active"),
    (4, "opensent"),
    (5, "openconfirm"),
    (6, "established"),
];
const OSPF_NBR_STATE: &[(i64, &str)] = &[
    (1, "down"),
    (2, "attempt"),
    (3, "init"),
    (4, "twoWay"),
    (5, "exchangeStart"),
    (6, "exchange"),
    (7, "loading"),
    (8, "full"),
];
const UPS_BATTERY: &[(i64, &str)] = &[
    (1, "unknown"),
    (2, "batteryNormal"),
    (3, "batteryLow"),
    (4, "batteryDepleted"),
];

use Syntax::{Enum, InetAddress, Mac, Plain, Text};

/// (OID, name, syntax).
const TABLE: &[(&str, &str, Syntax)] = &[
    // SNMPv2-MIB system group and trap objects
    ("1.3.6.1.2.1.1.1", "sysDescr", Text),
    ("1.3.6.1.2.1.1.2", "sysObjectID", Plain),
    ("1.3.6.1.2.1.1.3", "sysUpTime", Plain),
    ("1.3.6.1.2.1.1.4", "sysContact", Text),
    ("1.3.6.1.2.1.1.5", "sysName", Text),
    ("1.3.6.1.2.1.1.6", "sysLocation", Text),
    ("1.3.6.1.6.3.1.1.4.1", "snmpTrapOID", Plain),
    ("1.3.6.1.6.3.1.1.4.3", "snmpTrapEnterprise", Plain),
    ("1.3.6.1.6.3.18.1.3", "snmpTrapAddress", Plain),
    ("1.3.6.1.6.3.18.1.4", "snmpTrapCommunity", Text),
    // SNMPv2-MIB standard notifications (snmpTraps)
    ("1.3.6.1.6.3.1.1.5.1", "coldStart", Plain),
    ("1.3.6.1.6.3.1.1.5.2", "warmStart", Plain),
    ("1.3.6.1.6.3.1.1.5.3", "linkDown", Plain),
    ("1.3.6.1.6.3.1.1.5.4", "linkUp", Plain),
    ("1.3.6.1.6.3.1.1.5.5", "authenticationFailure", Plain),
    ("1.3.6.1.6.3.1.1.5.6", "egpNeighborLoss", Plain),
    // IF-MIB
    ("1.3.6.1.2.1.2.2.1.1", "ifIndex", Plain),
    ("1.3.6.1.2.1.2.2.1.2", "ifDescr", Text),
    ("1.3.6.1.2.1.2.2.1.3", "ifType", Plain),
    ("1.3.6.1.2.1.2.2.1.4", "ifMtu", Plain),
    ("1.3.6.1.2.1.2.2.1.5", "ifSpeed", Plain),
    ("1.3.6.1.2.1.2.2.1.6", "ifPhysAddress", Mac),
    ("1.3.6.1.2.1.2.2.1.7", "ifAdminStatus", Enum(IF_STATUS)),
    ("1.3.6.1.2.1.2.2.1.8", "ifOperStatus", Enum(IF_STATUS)),
    ("1.3.6.1.2.1.2.2.1.9", "ifLastChange", Plain),
    ("1.3.6.1.2.1.31.1.1.1.1", "ifName", Text),
    ("1.3.6.1.2.1.31.1.1.1.15", "ifHighSpeed", Plain),
    ("1.3.6.1.2.1.31.1.1.1.18", "ifAlias", Text),
    // ENTITY-MIB basics
    ("1.3.6.1.2.1.47.1.1.1.1.2", "entPhysicalDescr", Text),
    ("1.3.6.1.2.1.47.1.1.1.1.7", "entPhysicalName", Text),
    ("1.3.6.1.2.1.47.1.1.1.1.11", "entPhysicalSerialNum", Text),
    ("1.3.6.1.2.1.47.2.0.1", "entConfigChange", Plain),
    // BGP4-MIB (RFC 4273 notifications and the older bgpTraps)
    ("1.3.6.1.2.1.15.0.1", "bgpEstablishedNotification", Plain),
    ("1.3.6.1.2.1.15.0.2", "bgpBackwardTransNotification", Plain),
    ("1.3.6.1.2.1.15.7.1", "bgpEstablished", Plain),
    ("1.3.6.1.2.1.15.7.2", "bgpBackwardTransition", Plain),
    ("1.3.6.1.2.1.15.3.1.2", "bgpPeerState", Enum(BGP_STATE)),
    ("1.3.6.1.2.1.15.3.1.7", "bgpPeerRemoteAddr", Plain),
    ("1.3.6.1.2.1.15.3.1.14", "bgpPeerLastError", Plain),
    // OSPF-MIB / OSPF-TRAP-MIB
    ("1.3.6.1.2.1.14.1.1", "ospfRouterId", Plain),
    ("1.3.6.1.2.1.14.10.1.1", "ospfNbrIpAddr", Plain),
    ("1.3.6.1.2.1.14.10.1.3", "ospfNbrRtrId", Plain),
    (
        "1.3.6.1.2.1.14.10.1.6",
        "ospfNbrState",
        Enum(OSPF_NBR_STATE),
    ),
    ("1.3.6.1.2.1.14.16.2.1", "ospfVirtIfStateChange", Plain),
    ("1.3.6.1.2.1.14.16.2.2", "ospfNbrStateChange", Plain),
    ("1.3.6.1.2.1.14.16.2.3", "ospfVirtNbrStateChange", Plain),
    ("1.3.6.1.2.1.14.16.2.4", "ospfIfConfigError", Plain),
    ("1.3.6.1.2.1.14.16.2.5", "ospfVirtIfConfigError", Plain),
    ("1.3.6.1.2.1.14.16.2.6", "ospfIfAuthFailure", Plain),
    ("1.3.6.1.2.1.14.16.2.7", "ospfVirtIfAuthFailure", Plain),
    ("1.3.6.1.2.1.14.16.2.8", "ospfIfRxBadPacket", Plain),
    ("1.3.6.1.2.1.14.16.2.9", "ospfVirtIfRxBadPacket", Plain),
    ("1.3.6.1.2.1.14.16.2.10", "ospfTxRetransmit", Plain),
    ("1.3.6.1.2.1.14.16.2.11", "ospfVirtIfTxRetransmit", Plain),
    ("1.3.6.1.2.1.14.16.2.12", "ospfOriginateLsa", Plain),
    ("1.3.6.1.2.1.14.16.2.13", "ospfMaxAgeLsa", Plain),
    ("1.3.6.1.2.1.14.16.2.14", "ospfLsdbOverflow", Plain),
    (
        "1.3.6.1.2.1.14.16.2.15",
        "ospfLsdbApproachingOverflow",
        Plain,
    ),
    ("1.3.6.1.2.1.14.16.2.16", "ospfIfStateChange", Plain),
    // UPS-MIB (RFC 1628)
    (
        "1.3.6.1.2.1.33.1.2.1",
        "upsBatteryStatus",
        Enum(UPS_BATTERY),
    ),
    ("1.3.6.1.2.1.33.1.2.2", "upsSecondsOnBattery", Plain),
    (
        "1.3.6.1.2.1.33.1.2.3",
        "upsEstimatedMinutesRemaining",
        Plain,
    ),
    ("1.3.6.1.2.1.33.1.6.1", "upsAlarmsPresent", Plain),
    ("1.3.6.1.2.1.33.1.6.2.1.2", "upsAlarmDescr", Plain),
    ("1.3.6.1.2.1.33.2.1", "upsTrapOnBattery", Plain),
    ("1.3.6.1.2.1.33.2.2", "upsTrapTestCompleted", Plain),
    ("1.3.6.1.2.1.33.2.3", "upsTrapAlarmEntryAdded", Plain),
    ("1.3.6.1.2.1.33.2.4", "upsTrapAlarmEntryRemoved", Plain),
    // HOST-RESOURCES-MIB basics
    ("1.3.6.1.2.1.25.1.1", "hrSystemUptime", Plain),
    ("1.3.6.1.2.1.25.2.3.1.3", "hrStorageDescr", Text),
    ("1.3.6.1.2.1.25.4.2.1.2", "hrSWRunName", Text),
    // SNMP-USM-MIB counters (seen in reports)
    (
        "1.3.6.1.6.3.15.1.1.1",
        "usmStatsUnsupportedSecLevels",
        Plain,
    ),
    ("1.3.6.1.6.3.15.1.1.2", "usmStatsNotInTimeWindows", Plain),
    ("1.3.6.1.6.3.15.1.1.3", "usmStatsUnknownUserNames", Plain),
    ("1.3.6.1.6.3.15.1.1.4", "usmStatsUnknownEngineIDs", Plain),
    ("1.3.6.1.6.3.15.1.1.5", "usmStatsWrongDigests", Plain),
    ("1.3.6.1.6.3.15.1.1.6", "usmStatsDecryptionErrors", Plain),
    // Enterprise roots and common vendor notifications
    ("1.3.6.1.4.1.9", "cisco", Plain),
    ("1.3.6.1.4.1.9.9.41.2.0.1", "clogMessageGenerated", Plain),
    ("1.3.6.1.4.1.9.9.43.2.0.1", "ciscoConfigManEvent", Plain),
    (
        "1.3.6.1.4.1.9.9.43.2.0.2",
        "ciscoConfigManCTIDRolledOver",
        Plain,
    ),
    ("1.3.6.1.4.1.11", "hp", Plain),
    ("1.3.6.1.4.1.311", "microsoft", Plain),
    ("1.3.6.1.4.1.318", "apc", Plain),
    ("1.3.6.1.4.1.2021", "ucdavis", Plain),
    ("1.3.6.1.4.1.2636", "juniperMIB", Plain),
    ("1.3.6.1.4.1.2636.4.1.1", "jnxPowerSupplyFailure", Plain),
    ("1.3.6.1.4.1.2636.4.1.2", "jnxFanFailure", Plain),
    ("1.3.6.1.4.1.2636.4.1.3", "jnxOverTemperature", Plain),
    ("1.3.6.1.4.1.2636.4.2.1", "jnxPowerSupplyOK", Plain),
    ("1.3.6.1.4.1.2636.4.2.2", "jnxFanOK", Plain),
    ("1.3.6.1.4.1.8072", "netSnmp", Plain),
    ("1.3.6.1.4.1.8072.4.0.1", "nsNotifyStart", Plain),
    ("1.3.6.1.4.1.8072.4.0.2", "nsNotifyShutdown", Plain),
    ("1.3.6.1.4.1.8072.4.0.3", "nsNotifyRestart", Plain),
    ("1.3.6.1.4.1.12356", "fortinet", Plain),
    ("1.3.6.1.4.1.12356.101", "fnFortiGateMib", Plain),
    ("1.3.6.1.4.1.12356.101.2.0.301", "fgTrapVpnTunUp", Plain),
    ("1.3.6.1.4.1.12356.101.2.0.302", "fgTrapVpnTunDown", Plain),
    ("1.3.6.1.4.1.12356.101.2.0.401", "fgTrapHaSwitch", Plain),
    ("1.3.6.1.4.1.12356.101.2.0.403", "fgTrapHaHBFail", Plain),
    ("1.3.6.1.4.1.12356.101.2.0.404", "fgTrapHaMemberDown", Plain),
    ("1.3.6.1.4.1.12356.101.2.0.405", "fgTrapHaMemberUp", Plain),
    ("1.3.6.1.4.1.14988", "mikrotik", Plain),
    ("1.3.6.1.4.1.25461", "paloAltoNetworks", Plain),
    ("1.3.6.1.4.1.41112", "ubnt", Plain),
    ("1.3.6.1.4.1.6574", "synology", Plain),
    // A few objects whose syntax matters
    ("1.3.6.1.2.1.4.20.1.1", "ipAdEntAddr", Plain),
    ("1.3.6.1.2.1.17.4.3.1.1", "dot1dTpFdbAddress", Mac),
    ("1.3.6.1.2.1.4.35.1.4", "ipNetToPhysicalPhysAddress", Mac),
    ("1.3.6.1.2.1.4.34.1.3", "ipAddressIfIndex", Plain),
    (
        "1.3.6.1.2.1.4.35.1.3",
        "ipNetToPhysicalNetAddress",
        InetAddress,
    ),
];

/// A name from the table or a loaded MIB.
#[derive(Debug, Clone)]
pub struct Known {
    /// The object or notification name.
    pub name: String,
    /// How to show its values.
    pub syntax: Syntax,
}

/// Names by OID: the built-in table plus whatever MIB files add.
pub struct Names {
    map: HashMap<Vec<u32>, Known>,
}

static BUILTIN: LazyLock<Names> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (oid, name, syntax) in TABLE {
        if let Some(arcs) = parse_oid(oid) {
            map.insert(
                arcs,
                Known {
                    name: (*name).to_owned(),
                    syntax: *syntax,
                },
            );
        }
    }
    Names { map }
});

/// `1.3.6.1…` → arcs.
pub fn parse_oid(s: &str) -> Option<Vec<u32>> {
    s.trim_start_matches('.')
        .split('.')
        .map(|p| p.parse::<u32>().ok())
        .collect()
}

/// Arcs → `1.3.6.1…`.
pub fn oid_string(arcs: &[u32]) -> String {
    let mut s = String::with_capacity(arcs.len() * 3);
    for (i, a) in arcs.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(itoa::Buffer::new().format(*a));
    }
    s
}

impl Names {
    /// The built-in table.
    pub fn builtin() -> &'static Names {
        &BUILTIN
    }

    /// The built-in table plus `extra` (loaded MIB objects win over built-in ones).
    pub fn with(extra: impl IntoIterator<Item = (Vec<u32>, Known)>) -> Names {
        let mut map = BUILTIN.map.clone();
        map.extend(extra);
        Names { map }
    }

    /// The longest known prefix of `arcs`: its entry and the remaining instance arcs.
    pub fn lookup<'a>(&self, arcs: &'a [u32]) -> Option<(&Known, &'a [u32])> {
        (1..=arcs.len()).rev().find_map(|n| {
            let (head, tail) = arcs.split_at(n);
            self.map.get(head).map(|k| (k, tail))
        })
    }

    /// `name.instance` or the numeric OID.
    pub fn display(&self, arcs: &[u32]) -> String {
        match self.lookup(arcs) {
            Some((k, [])) => k.name.clone(),
            Some((k, rest)) => format!("{}.{}", k.name, oid_string(rest)),
            None => oid_string(arcs),
        }
    }

    /// The OID of a name in the table (for MIB files whose parents are built in).
    pub fn oid_of(&self, name: &str) -> Option<Vec<u32>> {
        self.map
            .iter()
            .find(|(_, k)| k.name == name)
            .map(|(o, _)| o.clone())
    }

    /// The exact name of `arcs` (no instance part), if known.
    pub fn exact(&self, arcs: &[u32]) -> Option<&str> {
        self.map.get(arcs).map(|k| k.name.as_str())
    }

    /// Entries known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_with_instance() {
        let n = Names::builtin();
        assert_eq!(
            n.display(&parse_oid("1.3.6.1.2.1.2.2.1.8.3").unwrap_or_default()),
            "ifOperStatus.3"
        );
        assert_eq!(
            n.display(&parse_oid("1.3.6.1.6.3.1.1.5.3").unwrap_or_default()),
            "linkDown"
        );
        assert_eq!(
            n.display(&parse_oid("1.3.6.1.4.1.9.9.999.1").unwrap_or_default()),
            "cisco.9.999.1"
        );
        assert_eq!(n.display(&parse_oid("1.2.3").unwrap_or_default()), "1.2.3");
        assert_eq!(n.display(&[]), "");
    }

    #[test]
    fn every_table_oid_parses() {
        for (oid, name, _) in TABLE {
            assert!(parse_oid(oid).is_some(), "{name}");
        }
        assert_eq!(Names::builtin().len(), TABLE.len());
    }
}
