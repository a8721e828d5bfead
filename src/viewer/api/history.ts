import { EVENT_KEY_FUTURE_MS, EVENT_KEY_PAST_DAYS, utcDayPath } from '../../protocol/upload-grant.js';
import type { Bucket, ListedObject } from './bucket.js';
import { imageRef } from './image-ref.js';
import { parseEventPictureKey, parseSnapshotKey, requestedAt } from './keys.js';
import type { EventImageRef, ImageRef } from './types.js';

/**
 * A camera's history, newest first, a page at a time, with a bounded number of S3 listings per
 * request. S3 lists keys in ascending order only, and keys are `{prefix}yyyy/mm/dd/{time-sortable
 * name}.jpg`, so the newest keys below a bound are found a day at a time: the newest day that has a
 * key below the bound is found by a binary search over days (ListObjectsV2 with StartAfter = the day
 * and MaxKeys = 1 says whether any key lies between that day and the bound), then that day is listed.
 * A dense history costs one probe and one listing per day; a gap of N empty days costs about log2(N)
 * probes, never one listing per empty day (issue 20: a far-future cursor made one request list S3
 * once per day for millions of days). When the budget of listings is spent before the page is full,
 * the page ends early and `next` says where to go on.
 *
 * The days searched are bounded too: from the camera's oldest key (snapshots: keys only the cloud
 * handler makes) or the event floor (the later of `eventDays` back, the bucket's retention, and the
 * camera's enrolment day: the camera chooses its event keys) up to the ceiling (today; for events a day ahead, for a camera clock a
 * little fast). A `before` cursor is a key of the listing or a day (`yyyy-mm-dd`: everything older
 * than that day, what `next` is when a page ends on a day boundary); one later than the ceiling is a
 * RangeError (the API answers 400).
 */

export const MAX_HISTORY_PAGE = 100;
/** S3 listing calls one page may make (probes and day listings together). */
export const MAX_LISTINGS_PER_PAGE = 40;
/** How far ahead of the API's clock a snapshot key or cursor may be: clock skew between services. */
export const CLOCK_ALLOWANCE_MS = 5 * 60 * 1000;
/** Event keys dated more than this many days back are not listed (the grant's own window; eventDays narrows it). */
export const DEFAULT_EVENT_DAYS = EVENT_KEY_PAST_DAYS;

const DAY_MS = 24 * 3600 * 1000;
const DAY_CURSOR = /^(\d{4})-(\d{2})-(\d{2})$/;

export interface HistoryPage<T = ImageRef> {
  items: T[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  next: string | null;
}

/** Where a kind of picture lives: its prefix (ending in `/`) and the UTC day of each of its keys. */
interface KeyLayout {
  prefix: string;
  /** `yyyy-mm-dd` of a key of this layout, else undefined. */
  dayOf(key: string): string | undefined;
  /** The moment a key's name says it was taken, when it says. */
  timeOf(key: string): Date | undefined;
}

/** Days as whole numbers since 1970-01-01 (UTC). */
const dayNumber = (at: Date): number => Math.floor(at.getTime() / DAY_MS);
const dayFromString = (day: string): number => Date.parse(`${day}T00:00:00Z`) / DAY_MS;
const dayString = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

/** Counts the listing calls of one request and refuses the one over budget. */
class ListingBudget {
  calls = 0;
  constructor(
    private readonly bucket: Bucket,
    private readonly max: number,
  ) {}

  get left(): number {
    return this.max - this.calls;
  }

  list(opts: Parameters<Bucket['list']>[0]): ReturnType<Bucket['list']> {
    this.calls += 1;
    return this.bucket.list(opts);
  }
}

/** Every key of one day prefix, ascending; undefined when the budget ran out first. */
async function listDay(budget: ListingBudget, prefix: string): Promise<ListedObject[] | undefined> {
  const all: ListedObject[] = [];
  let next: string | undefined;
  do {
    if (budget.left < 1) return undefined;
    const page = await budget.list({ prefix, maxKeys: 1000, ...(next !== undefined ? { continuation: next } : {}) });
    all.push(...page.objects);
    next = page.next;
  } while (next !== undefined);
  return all;
}

interface Search {
  layout: KeyLayout;
  /** Newest and oldest day to search. */
  hi: number;
  lo: number;
  /** Keys must sort below this. */
  upper: string;
  /** Stop once this many keys are found. */
  want: number;
}

/**
 * Up to `want` keys of the layout below `upper`, newest first, within days lo..hi; `resume` is where
 * to go on when the budget ran out first (a cursor), else undefined.
 */
async function newestFirst(budget: ListingBudget, s: Search): Promise<{ found: ListedObject[]; resume: string | undefined }> {
  const { layout } = s;
  const dayStart = (day: number): string => `${layout.prefix}${utcDayPath(new Date(day * DAY_MS))}`;
  const found: ListedObject[] = [];
  let { hi, upper } = s;
  // Keys sort below `upper` and at or above the day's start: some key lies in [day, upper).
  const hasKeyFrom = async (day: number): Promise<boolean> => {
    const first = (await budget.list({ prefix: layout.prefix, startAfter: dayStart(day), maxKeys: 1 })).objects[0];
    return first !== undefined && first.key < upper;
  };
  /** Where the next page starts: a day when `upper` is the start of one, else the key cursor itself. */
  const resumeAt = (): string => (upper === dayStart(hi + 1) ? dayString(hi + 1) : upper);
  /** Nothing lies in [day, upper): the bound moves down, and a page that stops here resumes below it. */
  const emptyFrom = (day: number): void => {
    upper = dayStart(day);
    hi = day - 1;
  };
  while (found.length < s.want && hi >= s.lo) {
    // The newest day in lo..hi with a key below upper. Each probe needs a call, the day's listing one more.
    if (budget.left < 2) return { found, resume: resumeAt() };
    let day: number;
    if (await hasKeyFrom(hi)) day = hi;
    else {
      // A gap: gallop down 1, 2, 4, ... days until a probe finds a key, then bisect that stretch.
      // Every probe that finds nothing lowers the bound for good, so a page that runs out of
      // listings mid-search still hands the next page a cursor below everything it ruled out.
      emptyFrom(hi);
      let step = 1;
      let from: number | undefined;
      while (from === undefined && hi >= s.lo) {
        if (budget.left < 2) return { found, resume: resumeAt() };
        const probe = Math.max(s.lo, hi - step + 1);
        if (await hasKeyFrom(probe)) from = probe;
        else emptyFrom(probe);
        step *= 2;
      }
      if (from === undefined) break;
      let l = from;
      while (l < hi) {
        if (budget.left < 2) return { found, resume: resumeAt() };
        const mid = Math.ceil((l + hi) / 2);
        if (await hasKeyFrom(mid)) l = mid;
        else emptyFrom(mid);
      }
      day = l;
    }
    const objects = await listDay(budget, `${dayStart(day)}/`);
    if (objects === undefined) return { found, resume: resumeAt() };
    found.push(...objects.filter((o) => o.key < upper && layout.dayOf(o.key) === dayString(day)).reverse());
    hi = day - 1;
    upper = dayStart(day);
  }
  return { found, resume: undefined };
}

/** The search for one page: where `before` puts its upper end, refused when it is later than the ceiling. */
function searchFor(layout: KeyLayout, opts: { before: string | undefined; ceiling: Date; lo: number; want: number }, what: string): Search {
  const hiMax = dayNumber(opts.ceiling);
  const base = { layout, lo: opts.lo, want: opts.want };
  if (opts.before === undefined) return { ...base, hi: hiMax, upper: `${layout.prefix}${utcDayPath(new Date((hiMax + 1) * DAY_MS))}` };
  const later = `before (${opts.before.slice(0, 80)}) is later than now (${opts.ceiling.toISOString()} with the allowed clock skew): pass a ${what} or a day (yyyy-mm-dd) from the last page's next`;
  if (DAY_CURSOR.test(opts.before)) {
    const day = dayFromString(opts.before);
    if (!Number.isFinite(day) || dayString(day) !== opts.before) throw new RangeError(`before (${opts.before}) is not a calendar day`);
    if (day > hiMax + 1) throw new RangeError(later);
    return { ...base, hi: day - 1, upper: `${layout.prefix}${utcDayPath(new Date(day * DAY_MS))}` };
  }
  const day = layout.dayOf(opts.before);
  if (day === undefined) throw new RangeError(`before must be a ${what} or a day (yyyy-mm-dd)`);
  const at = layout.timeOf(opts.before);
  if (dayFromString(day) > hiMax || (at !== undefined && at.getTime() > opts.ceiling.getTime())) throw new RangeError(later);
  return { ...base, hi: dayFromString(day), upper: opts.before };
}

function page<T>(found: ListedObject[], limit: number, resume: string | undefined, items: T[]): HistoryPage<T> {
  // A full page may be the last one: the next then comes back empty (cheaper than searching one more
  // key each time, which in a sparse history is a whole search of its own).
  if (found.length >= limit) return { items, next: found[limit - 1]!.key };
  return { items, next: resume ?? null };
}

/** The oldest day the layout has a key on, at or after `floor` (one listing). */
async function oldestDay(budget: ListingBudget, layout: KeyLayout, floor: number | undefined): Promise<number | undefined> {
  const startAfter = floor !== undefined ? `${layout.prefix}${utcDayPath(new Date(floor * DAY_MS))}` : undefined;
  const first = (await budget.list({ prefix: layout.prefix, maxKeys: 1, ...(startAfter !== undefined ? { startAfter } : {}) })).objects[0];
  if (first === undefined) return undefined;
  const day = layout.dayOf(first.key);
  // A key of another shape first (only a camera's own event uploads can be): search from the floor.
  if (day === undefined) return floor;
  return Math.max(dayFromString(day), floor ?? -Infinity);
}

export interface HistoryOptions {
  thing: string;
  before?: string | undefined;
  limit: number;
  now: Date;
  presignSeconds: number;
  maxListings?: number;
}

const snapshotLayout = (thing: string): KeyLayout => ({
  prefix: `${thing}/`,
  dayOf: (key) => (parseSnapshotKey(key)?.thing === thing ? parseSnapshotKey(key)?.day : undefined),
  timeOf: (key) => {
    const id = parseSnapshotKey(key)?.id;
    return id !== undefined ? requestedAt(id) : undefined;
  },
});

const eventLayout = (thing: string): KeyLayout => ({
  prefix: `${thing}/events/`,
  dayOf: (key) => (parseEventPictureKey(key)?.thing === thing ? parseEventPictureKey(key)?.day : undefined),
  timeOf: (key) => parseEventPictureKey(key)?.at,
});

/** The newest snapshot key of a camera, in a bounded number of listings (the fleet page, each poll). */
export async function newestSnapshot(bucket: Bucket, thing: string, now: Date, maxListings = 24): Promise<ListedObject | undefined> {
  const budget = new ListingBudget(bucket, maxListings);
  const layout = snapshotLayout(thing);
  const lo = await oldestDay(budget, layout, undefined);
  if (lo === undefined) return undefined;
  const { found } = await newestFirst(budget, searchFor(layout, { before: undefined, ceiling: new Date(now.getTime() + CLOCK_ALLOWANCE_MS), lo, want: 1 }, 'snapshot key'));
  return found[0];
}

export async function history(bucket: Bucket, opts: HistoryOptions): Promise<HistoryPage> {
  const { thing, limit } = opts;
  const layout = snapshotLayout(thing);
  const budget = new ListingBudget(bucket, opts.maxListings ?? MAX_LISTINGS_PER_PAGE);
  const ceiling = new Date(opts.now.getTime() + CLOCK_ALLOWANCE_MS);
  const search = searchFor(layout, { before: opts.before, ceiling, lo: 0, want: limit }, `snapshot key of ${thing}`);
  const lo = await oldestDay(budget, layout, undefined);
  if (lo === undefined) return { items: [], next: null };
  const { found, resume } = await newestFirst(budget, { ...search, lo });
  const items = await Promise.all(found.slice(0, limit).map((o) => imageRef(bucket, o.key, o.bytes, opts.presignSeconds)));
  return page(found, limit, resume, items);
}

/**
 * A camera's event snapshots, newest first, each with its trigger and frame (read from its key). Only
 * keys dated from the floor to a day ahead are listed: the floor is `eventDays` back (default
 * DEFAULT_EVENT_DAYS) or the camera's enrolment day (`enrolledAt`, when the registry recorded one),
 * whichever is later. The camera names its own event keys: one dated 2015 or 9999 must not make every
 * page search the years in between, show as its newest event, nor pass for a picture taken before the
 * camera was this thing (a reset or second-hand camera's old dates, a stolen identity's backdating).
 */
export async function eventHistory(bucket: Bucket, opts: HistoryOptions & { eventDays?: number; enrolledAt?: Date }): Promise<HistoryPage<EventImageRef>> {
  const { thing, limit } = opts;
  const layout = eventLayout(thing);
  const budget = new ListingBudget(bucket, opts.maxListings ?? MAX_LISTINGS_PER_PAGE);
  const windowFloor = dayNumber(new Date(opts.now.getTime() - (opts.eventDays ?? DEFAULT_EVENT_DAYS) * DAY_MS));
  const floor = opts.enrolledAt !== undefined ? Math.max(windowFloor, dayNumber(opts.enrolledAt)) : windowFloor;
  const ceiling = new Date(opts.now.getTime() + EVENT_KEY_FUTURE_MS);
  const search = searchFor(layout, { before: opts.before, ceiling, lo: floor, want: limit }, `event snapshot key of ${thing}`);
  const lo = await oldestDay(budget, layout, floor);
  if (lo === undefined) return { items: [], next: null };
  const { found, resume } = await newestFirst(budget, { ...search, lo });
  const items = await Promise.all(
    found.slice(0, limit).map(async (o) => {
      const parts = parseEventPictureKey(o.key)!;
      const ref = await imageRef(bucket, o.key, o.bytes, opts.presignSeconds);
      return { ...ref, at: parts.at.toISOString(), trigger: parts.trigger, frame: parts.frame };
    }),
  );
  return page(found, limit, resume, items);
}
