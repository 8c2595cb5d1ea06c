/**
 * MODULE_DEVICE_TABLE data: the ID table a driver matches devices with, and
 * the `__mod_<bus>__<table>_device_table` alias the macro puts on it (from
 * which modpost makes the module's autoload aliases). A changed table is
 * existing data the running driver registered at load; naming it as a device
 * table tells the user why it cannot be live-patched.
 */
import type { Kelf } from './model.js';

const ALIAS = /^__mod_(.+?)__(.+)_device_table$/;

export interface DeviceTable {
  /** The bus (pci, usb, of, acpi, ...). */
  bus: string;
  /** The table's own symbol name. */
  table: string;
  /** The alias symbol's name. */
  alias: string;
  /** `sym` is the alias, and the table's own symbol is in the object too (refused under that name). */
  aliasOfPresentTable: boolean;
}

/** The device table `sym` is (or is the alias of), or null. */
export function deviceTableOf(k: Kelf, sym: number): DeviceTable | null {
  const name = k.symName(sym);
  const own = ALIAS.exec(name);
  const sec = k.symSec[sym];
  const at = k.value(sym);
  if (own) {
    let present = false;
    for (let s = 1; s < k.nsym; s++) {
      if (s !== sym && k.symSec[s] === sec && k.value(s) === at && k.symName(s) === own[2]) present = true;
    }
    return { bus: own[1], table: own[2], alias: name, aliasOfPresentTable: present };
  }
  for (let s = 1; s < k.nsym; s++) {
    if (s === sym || k.symSec[s] !== sec || k.value(s) !== at) continue;
    const m = ALIAS.exec(k.symName(s));
    if (m && m[2] === name) return { bus: m[1], table: name, alias: k.symName(s), aliasOfPresentTable: false };
  }
  return null;
}

/** Why a changed device table cannot be live-patched. */
export function deviceTableReason(t: DeviceTable, section: string): string {
  return `device-ID table changed (MODULE_DEVICE_TABLE(${t.bus}, ${t.table}), in ${section}): the devices a driver matches are existing data the running driver registered `
    + 'when it loaded, and the autoload aliases come from the installed module; a livepatch cannot change which devices bind (ship an updated module)';
}
