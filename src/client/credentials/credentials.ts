/** The credentials type of the client's credential code (defined beside the helper protocol, in util). */
export type { Credentials } from "../../util/docker-credential-helper.ts";
