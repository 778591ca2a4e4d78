/** The credentials type shared by docker-config.ts and credential-helper.ts (its own file, so neither imports the other back). */

/** A user name and password (or token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
}
