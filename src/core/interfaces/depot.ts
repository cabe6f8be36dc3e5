// One directory per container, named by its id (never by a client's handle).
export interface Depot {
  /** The directory holding the containers' directories. */
  readonly root: string;
  path(id: string): string;
  create(id: string): Promise<string>;
  remove(id: string): Promise<void>;
  /** Ids of every container directory present. */
  list(): Promise<string[]>;
}
