/**
 * The apps the server offers to its clients (the other direction: an edge
 * connects to a central upstream through the same tunnel). The server tells
 * each connected peer, in AppOffer and AppOfferWithdraw frames, only about
 * the apps offered to it, and only when its hello asked for offers
 * (`HelloFeature.Offers`). It dials an upstream only for a stream that names
 * an app it has told that peer about and not withdrawn since; any other
 * stream is reset and logged, never dialled.
 *
 * @module
 */

import { carryToUpstream, pairKey } from "../client/mod.ts";
import { type Logger, LogTally } from "../log/mod.ts";
import {
  addTraffic,
  type AppTraffic,
  Flow,
  noTraffic,
  type Traffic,
  TrafficLedger,
} from "../metrics/mod.ts";
import type { Mux, MuxStream } from "../mux/mod.ts";
import {
  encodeAppAnnounce,
  encodeAppWithdraw,
  FrameKind,
  HelloFeature,
  isOfferedTo,
  type OfferSpec,
  ResetCode,
} from "../protocol/mod.ts";

/** An offer as the server lists it, with its traffic summed over the peers that used it. */
export interface OfferedApp extends Traffic {
  /** App name. */
  app: string;
  /** `host:port` the server dials. */
  upstream: string;
  /** The peers it is offered to; absent: every approved peer. */
  peers?: readonly string[];
}

/** One connected peer: whether it asked for offers, what it was told, and its streams. */
interface PeerOffers {
  name: string;
  mux: Mux;
  log: Logger;
  /** Its hello has `HelloFeature.Offers`: only then is it told anything. */
  asks: boolean;
  /** Apps it was told about, with the port it was told. */
  told: Map<string, number>;
  /** Its connections to offered apps, by app, so a withdrawal can reset them. */
  streams: Map<string, Set<MuxStream>>;
  /** Refused streams: a peer forging opens by the thousand costs a line per interval. */
  refused: LogTally;
}

const REFUSED = "refusing a stream: the app is not offered to this peer";

/** What the offers need from the server. */
export interface ServerOffersOptions {
  /** Registers work the server awaits on shutdown. */
  track(work: Promise<unknown>): void;
  /** Where to log. */
  log: Logger;
}

/** The server's offers and the peers told about them. */
export class ServerOffers {
  #offers = new Map<string, OfferSpec>();
  #peers = new Map<Mux, PeerOffers>();
  #traffic = new Map<string, { peer: string; app: string; ledger: TrafficLedger }>();
  #options: ServerOffersOptions;
  /** Streams opened before the peer's hello. */
  #unknown: LogTally;

  /** No offers yet. */
  constructor(options: ServerOffersOptions) {
    this.#options = options;
    this.#unknown = new LogTally(options.log, REFUSED);
  }

  /**
   * Replaces the offers (names must be unique); every connected peer is told
   * what changed for it at once, and connections to an app it may no longer
   * use are reset.
   */
  set(offers: readonly OfferSpec[]): void {
    const before = this.#offers;
    this.#offers = new Map(offers.map((offer) => [offer.name, offer]));
    for (const offer of offers) {
      const old = before.get(offer.name);
      const changed = !old || old.host !== offer.host || old.port !== offer.port ||
        old.peers?.join(",") !== offer.peers?.join(",");
      if (changed) {
        this.#options.log.info("offering app", {
          app: offer.name,
          upstream: `${offer.host}:${offer.port}`,
          peers: offer.peers?.join(",") ?? "*",
          flow: Flow.ToCenter,
        });
      }
    }
    for (const name of before.keys()) {
      if (!this.#offers.has(name)) this.#options.log.info("no longer offering app", { app: name });
    }
    for (const peer of this.#peers.values()) this.#sync(peer);
  }

  /** Every offer with its traffic so far (all peers'), sorted by name. */
  list(): OfferedApp[] {
    const sums = new Map<string, Traffic>();
    for (const { app, ledger } of this.#traffic.values()) {
      sums.set(app, addTraffic(sums.get(app) ?? noTraffic(), ledger.traffic()));
    }
    return [...this.#offers.values()]
      .map((offer) => ({
        app: offer.name,
        upstream: `${offer.host}:${offer.port}`,
        ...(offer.peers ? { peers: offer.peers } : {}),
        ...(sums.get(offer.name) ?? noTraffic()),
      }))
      .sort((a, b) => a.app.localeCompare(b.app));
  }

  /** Traffic to offered apps, per (peer, app), for the life of the server. */
  traffic(): AppTraffic[] {
    return [...this.#traffic.values()].map(({ peer, app, ledger }) => ({
      peer,
      app,
      ...ledger.traffic(),
    }));
  }

  /**
   * A peer connected on `mux`; when its hello's `features` ask for offers,
   * it is told about the apps offered to it now and later.
   */
  attach(name: string, mux: Mux, features: number, log: Logger): void {
    const peerLog = log.with({ flow: Flow.ToCenter });
    const peer: PeerOffers = {
      name,
      mux,
      log: peerLog,
      asks: (features & HelloFeature.Offers) !== 0,
      told: new Map(),
      streams: new Map(),
      refused: new LogTally(peerLog, REFUSED),
    };
    this.#peers.set(mux, peer);
    this.#sync(peer);
  }

  /** The connection on `mux` ended (its streams end with it). */
  detach(mux: Mux): void {
    this.#peers.delete(mux);
  }

  /**
   * The peer on `mux` opened `stream`: dials the upstream when the app is
   * offered to it now, else resets the stream and logs it.
   */
  accept(mux: Mux, stream: MuxStream): void {
    const peer = this.#peers.get(mux);
    const offer = peer?.told.has(stream.app) ? this.#offers.get(stream.app) : undefined;
    if (!peer || !offer) {
      this.#refuse(peer, stream);
      return;
    }
    let streams = peer.streams.get(offer.name);
    if (!streams) peer.streams.set(offer.name, streams = new Set());
    streams.add(stream);
    const log = peer.log.with({ app: offer.name, stream: stream.id });
    this.#options.track(
      carryToUpstream(stream, offer, this.#ledger(peer.name, offer.name), log)
        .finally(() => streams.delete(stream)),
    );
  }

  #refuse(peer: PeerOffers | undefined, stream: MuxStream): void {
    const fields = { app: stream.app, stream: stream.id };
    if (peer) peer.refused.add(fields);
    else this.#unknown.add({ ...fields, before: "hello" });
    stream.reset(ResetCode.UnknownApp, `no app named "${stream.app}" is offered to you`);
  }

  #ledger(peer: string, app: string): TrafficLedger {
    const key = pairKey(peer, app);
    let entry = this.#traffic.get(key);
    if (!entry) this.#traffic.set(key, entry = { peer, app, ledger: new TrafficLedger() });
    return entry.ledger;
  }

  /** Tells `peer` what changed: withdrawals (resetting their connections) first, then offers. */
  #sync(peer: PeerOffers): void {
    if (!peer.asks) return;
    for (const [name, port] of peer.told) {
      const offer = this.#offers.get(name);
      if (offer && offer.port === port && isOfferedTo(offer, peer.name)) continue;
      peer.told.delete(name);
      peer.mux.sendControl(FrameKind.AppOfferWithdraw, encodeAppWithdraw(name));
      const streams = peer.streams.get(name) ?? new Set();
      for (const stream of streams) stream.reset(ResetCode.Aborted, `app "${name}" withdrawn`);
      peer.log.info("offer withdrawn", { app: name, connectionsReset: streams.size });
    }
    for (const offer of this.#offers.values()) {
      if (peer.told.has(offer.name) || !isOfferedTo(offer, peer.name)) continue;
      peer.mux.sendControl(FrameKind.AppOffer, encodeAppAnnounce(offer));
      peer.told.set(offer.name, offer.port);
      peer.log.info("app offered", { app: offer.name });
    }
  }
}
