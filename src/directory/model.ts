/**
 * directory/ — the directory file (Part B of the contract): tenants, applications (bots) and their
 * application instances, users and PSTN numbers, each with a simulated behaviour. `load.ts` reads and
 * validates the YAML; this file holds the validated shapes and the look-ups the rest of the code uses.
 */

/** How a simulated party behaves when it rings (Part B "Behaviours"). No behaviour = `manual`. */
export interface Behaviour {
  answerAfter?: number;
  decline?: boolean;
  /** With `decline`: seconds before declining (default 0). */
  after?: number;
  busy?: boolean;
  noAnswer?: boolean;
  unreachable?: boolean;
  manual?: boolean;
  /** A user id or an E.164 number that rings in this party's place (unless `disableForwarding`). */
  forwardTo?: string;
}

export interface ApplicationInstance {
  id: string;
  displayName?: string;
  /** E.164 */
  phone?: string;
}

export interface Application {
  id: string;
  tenantId: string;
  displayName?: string;
  clientSecret?: string;
  /** PEM of the application's public certificate (certificate credential). */
  certificate?: string;
  roles: string[];
  callbackUri: string;
  instances: ApplicationInstance[];
  /** When set, the simulated plane acts for this application when it is a redirect target. */
  behaviour?: Behaviour;
}

export interface User {
  id: string;
  tenantId: string;
  displayName?: string;
  behaviour?: Behaviour;
}

export interface Tenant {
  id: string;
  displayName?: string;
  applications: Application[];
  users: User[];
}

export interface Phone {
  number: string;
  displayName?: string;
  behaviour?: Behaviour;
}

export interface DirectoryConfig {
  admin?: { key: string };
  limits: { requestsPer15Seconds: number; bodyBytes: number };
  notifications: { allowHosts: string[]; giveUpAfterSeconds: number };
}

export interface Directory extends DirectoryConfig {
  tenants: Tenant[];
  phones: Phone[];
}

/** Indexed look-ups over a validated directory. */
export class DirectoryIndex {
  private readonly tenants = new Map<string, Tenant>();
  private readonly applications = new Map<string, Application>();
  private readonly instances = new Map<string, { application: Application; instance: ApplicationInstance }>();
  private readonly users = new Map<string, User>();
  private readonly phones = new Map<string, Phone>();
  private readonly instancePhones = new Map<string, { application: Application; instance: ApplicationInstance }>();

  constructor(readonly directory: Directory) {
    for (const tenant of directory.tenants) {
      this.tenants.set(tenant.id, tenant);
      for (const application of tenant.applications) {
        this.applications.set(application.id, application);
        for (const instance of application.instances) {
          this.instances.set(instance.id, { application, instance });
          if (instance.phone) this.instancePhones.set(instance.phone, { application, instance });
        }
      }
      for (const user of tenant.users) this.users.set(user.id, user);
    }
    for (const phone of directory.phones) this.phones.set(phone.number, phone);
  }

  tenant(id: string): Tenant | undefined {
    return this.tenants.get(id);
  }
  application(id: string): Application | undefined {
    return this.applications.get(id);
  }
  instance(id: string): { application: Application; instance: ApplicationInstance } | undefined {
    return this.instances.get(id);
  }
  instanceByPhone(number: string): { application: Application; instance: ApplicationInstance } | undefined {
    return this.instancePhones.get(number);
  }
  user(id: string): User | undefined {
    return this.users.get(id);
  }
  phone(number: string): Phone | undefined {
    return this.phones.get(number);
  }
}
