// Pages without their own module (log-in, sign-up): just the connection indicator.
import { boot } from "./boot.js";

boot();
