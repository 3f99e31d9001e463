/**
 * ALSA capture devices, from `/proc/asound/cards` + `/proc/asound/pcm` (preferred: plain files) or from
 * `arecord -l` (alsa-utils). Both give the same facts; each device is named by a stable ALSA id,
 * `hw:CARD=<card id>,DEV=<n>`, which survives cards being renumbered on replug (`hw:1,0` does not).
 */

export interface AudioCaptureDevice {
  /** `hw:CARD=C920,DEV=0`: what `alsasrc device=…` takes. */
  id: string;
  card: number;
  /** The card's ALSA id (`C920`), stable across replugs and reboots. */
  cardId: string;
  /** The card's long name (`HD Pro Webcam C920`). */
  cardName: string;
  device: number;
  /** The PCM's own name (`USB Audio`). */
  deviceName: string;
}

export function alsaId(cardId: string, device: number): string {
  return `hw:CARD=${cardId},DEV=${device}`;
}

const ARECORD_LINE = /^card (\d+): (\S+) \[(.*)\], device (\d+): (.*) \[(.*)\]\s*$/;

/** `arecord -l`: one `card N: ID [name], device M: id [name]` line per capture PCM. */
export function parseArecordList(text: string): AudioCaptureDevice[] {
  const devices: AudioCaptureDevice[] = [];
  for (const line of text.split("\n")) {
    const match = line.match(ARECORD_LINE);
    if (!match) continue;
    const [, card, cardId = "", cardName = "", device, , deviceName = ""] = match;
    devices.push({
      id: alsaId(cardId, Number(device)),
      card: Number(card),
      cardId,
      cardName,
      device: Number(device),
      deviceName,
    });
  }
  return devices;
}

/**
 * `/proc/asound/cards` (` 1 [C920           ]: USB-Audio - HD Pro Webcam C920`) joined with
 * `/proc/asound/pcm` (`01-00: USB Audio : USB Audio : capture 1`): the PCMs that can capture.
 */
export function parseProcAsound(cards: string, pcm: string): AudioCaptureDevice[] {
  const cardsByNumber = new Map<number, { cardId: string; cardName: string }>();
  for (const line of cards.split("\n")) {
    const match = line.match(/^\s*(\d+)\s+\[(\S+)\s*]:\s*.*?\s-\s(.*?)\s*$/);
    if (match) cardsByNumber.set(Number(match[1]), { cardId: match[2] ?? "", cardName: match[3] ?? "" });
  }
  const devices: AudioCaptureDevice[] = [];
  for (const line of pcm.split("\n")) {
    const match = line.match(/^(\d+)-(\d+): ([^:]*?) : [^:]*? :(.*)$/);
    if (!match || !/\bcapture \d+/.test(match[4] ?? "")) continue;
    const card = Number(match[1]);
    const device = Number(match[2]);
    const known = cardsByNumber.get(card);
    if (!known) continue;
    devices.push({ id: alsaId(known.cardId, device), card, ...known, device, deviceName: match[3] ?? "" });
  }
  return devices;
}
